"""Camera intrinsics and image-to-ground homographies (issue 5).

Modules, each importable on its own (nothing is re-exported here, so importing the package stays cheap):

* ``intrinsics`` — ``Intrinsics`` and ``calibrate_chessboard`` (OpenCV chessboard calibration);
* ``undistort`` — undistorting points and images;
* ``homography`` — ``fit_homography`` (RANSAC, error in metres) and ``apply_homography``;
* ``pose`` — ``CameraPose``, ``estimate_pose`` (solvePnP IPPE) and ``look_at``;
* ``files`` — ``CameraCalibration``, JSON files and the versioned ``CalibrationStore``;
* ``projection`` — ``pixels_to_ground``, ``pixels_to_plane``, ``ground_to_pixels`` for N points at once;
* ``synthetic`` — cameras with known answers: rendered chessboards and ground surveys;
* ``survey`` — reading survey files; ``command`` — the ``smartgate calibrate`` subcommands.

Every problem with the input ends in ``calibration.errors.CalibrationError``.
"""
