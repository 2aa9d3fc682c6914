"""FastAPI service and control-room screens (issue 8)."""
