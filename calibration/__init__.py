"""Camera intrinsics and image-to-ground homographies (issue 5)."""
