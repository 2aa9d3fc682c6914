"""Training the gate detector: YOLO dataset export (no torch needed) and the ultralytics training run (torch needed).

`yolo_dataset` turns recordings and the real ContainerVision labels into the ultralytics layout; `train` generates
synthetic footage, trains YOLO11 from scratch and evaluates per class; `export` writes the ONNX model the runtime
detector loads; `command` is `smartgate train` and `smartgate export`.
"""
