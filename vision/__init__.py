"""Frame sources, detection, OCR, tracking and fusion for the gate lanes (issue 3)."""
