"""Export of a whole detector (preprocessing, network, box decoding, NMS, rescaling) to ONNX,
checked with onnxruntime against the PyTorch model (``zoo export``; docs/export.md)."""
from .check import MIN_IOU, SCORE_ATOL, SCORE_THR, Match, match_detections
from .graph import ExportableDetector, build_exportable, image_pipeline, run_pytorch
from .onnx import (DEFAULT_OPSET, ExportError, check_images, check_model_file, export_onnx,
                   ort_session, run_onnx, unsupported_op, verify)
from .preprocess import GraphPreprocess, resize_params

__all__ = ['MIN_IOU', 'SCORE_ATOL', 'SCORE_THR', 'Match', 'match_detections', 'ExportableDetector',
           'build_exportable', 'image_pipeline', 'run_pytorch', 'DEFAULT_OPSET', 'ExportError',
           'check_images', 'check_model_file', 'export_onnx', 'ort_session', 'run_onnx',
           'unsupported_op', 'verify', 'GraphPreprocess', 'resize_params']
