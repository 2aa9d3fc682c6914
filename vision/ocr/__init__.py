"""Offline OCR: the PP-OCR recognition model through ONNX Runtime, batched, decoded by the identifier grammars."""

from vision.ocr.lines import CropError
from vision.ocr.model import ModelNotFoundError, RecognitionModel, default_model_path
from vision.ocr.reader import TextReader
from vision.ocr.recognizer import TextRecognizer

__all__ = ["CropError", "ModelNotFoundError", "RecognitionModel", "TextReader", "TextRecognizer",
           "default_model_path"]
