"""Training the gate detector: YOLO dataset export (no torch needed) and the ultralytics training run (torch needed).

`yolo_dataset` turns recordings and the real ContainerVision labels into the ultralytics layout; `train` generates
synthetic footage, trains YOLO11 from scratch, evaluates per class and exports ONNX for the runtime.
"""
