"""Export a detector to ONNX and check the file with onnxruntime.

The exporter is PyTorch's TorchScript-based one (``torch.onnx.export(..., dynamo=False)``):
it traces :class:`~zoo.export.graph.ExportableDetector` once, on an example image, with the
image's height and width marked dynamic. torchvision's ``nms``, ``roi_align`` and
``roi_pool`` have ONNX conversions there (``NonMaxSuppression``, ``RoiAlign``,
``MaxRoiPool``).

The graph: input ``image`` uint8 (H, W, 3) RGB, any H and W, one image; outputs ``boxes``
float32 (N, 4) xyxy in pixels of that image, ``scores`` float32 (N,), ``labels`` int64 (N,),
best first.
"""
from __future__ import annotations

import io
import re
import warnings
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from .check import SCORE_ATOL, SCORE_THR, MIN_IOU, Match, match_detections
from .graph import INPUT_NAME, OUTPUT_NAMES, ExportableDetector, run_pytorch

#: the ONNX opset used unless another is asked for (onnxruntime 1.16+ runs it)
DEFAULT_OPSET = 17


class ExportError(RuntimeError):
    """The model cannot be exported, or the exported file does not agree with PyTorch.

    Attributes:
        op: the operator without an ONNX conversion (``'aten::trunc'``), or None.
    """

    def __init__(self, message: str, op: Optional[str] = None):
        super().__init__(message)
        self.op = op


_OP_PATTERNS = (
    re.compile(r"[Ee]xporting the operator '?([\w:.]+)'? to ONNX"),
    re.compile(r"Couldn't export Python operator (\w+)"),
    re.compile(r"ONNX export failed on an operator with unrecognized namespace '?([\w:.]+)'?"),
    re.compile(r"Unsupported: ONNX export of (?:operator )?'?([\w:.]+)'?"),
)


def unsupported_op(err: BaseException) -> Optional[str]:
    """The operator an exporter error names as having no ONNX conversion, or None."""
    for e in (err, err.__cause__, err.__context__):
        if e is None:
            continue
        for pattern in _OP_PATTERNS:
            m = pattern.search(str(e))
            if m:
                return m.group(1)
    return None


def export_onnx(exportable: ExportableDetector, example: Tensor,
                opset: int = DEFAULT_OPSET) -> bytes:
    """Trace ``exportable`` on ``example`` (uint8 (H, W, 3) RGB) and return the ONNX file's bytes.

    Raises:
        ExportError: the exporter failed; the message names the operator without an ONNX
            conversion when there is one (:attr:`ExportError.op`), and the exporter's own
            error is chained (``__cause__``).
    """
    buf = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer warns at every Python bool/int read from a tensor (the parts' shape
            # checks); the check with onnxruntime on other image sizes is what tells
            warnings.simplefilter('ignore', torch.jit.TracerWarning)
            warnings.filterwarnings('ignore', category=UserWarning, module=r'torch\.onnx')
            warnings.filterwarnings('ignore', category=DeprecationWarning)
            warnings.filterwarnings('ignore', message=r'.*torch\.jit\.script.* is deprecated',
                                    category=FutureWarning)
            torch.onnx.export(
                exportable, (example,), buf, dynamo=False, opset_version=int(opset),
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAME: {0: 'height', 1: 'width'},
                              **{name: {0: 'num_detections'} for name in OUTPUT_NAMES}})
    except Exception as err:
        op = unsupported_op(err)
        if op is not None:
            raise ExportError(f'the model cannot be exported to ONNX (opset {opset}): the operator '
                              f'{op} has no ONNX conversion', op=op) from err
        raise ExportError(f'the ONNX exporter failed: {type(err).__name__}: '
                          f'{str(err).strip().splitlines()[0] if str(err).strip() else ""}') from err
    return buf.getvalue()


def check_model_file(path: str) -> None:
    """``onnx.checker.check_model`` on the file at ``path`` (the graph is well formed: types,
    opset, every node's inputs defined); the exported model is checked as a file, the one that
    will be renamed into place.

    Raises:
        ExportError: the checker refuses the file (its message chained), or onnx is missing.
    """
    try:
        import onnx
    except ImportError as err:
        raise ExportError("checking the exported file needs onnx: pip install "
                          "'detection-zoo[export]' (or onnx onnxruntime)") from err
    try:
        onnx.checker.check_model(path)
    except onnx.checker.ValidationError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ''
        raise ExportError(f'the exported file {path} is not a valid ONNX model: {first}') from err


def ort_session(onnx_model: Union[bytes, str], threads: Optional[int] = None):
    """An onnxruntime CPU session for an ONNX file (its path, or its bytes).

    Raises:
        ExportError: onnxruntime is not installed (the ``export`` extra).
    """
    try:
        import onnxruntime as ort
    except ImportError as err:
        raise ExportError("checking the exported file needs onnxruntime: pip install "
                          "'detection-zoo[export]' (or onnx onnxruntime)") from err
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no constant-folding notes on stderr
    if threads:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(onnx_model, options, providers=['CPUExecutionProvider'])


def run_onnx(session, image: Tensor) -> dict:
    """Run the exported model on one uint8 (3, H, W) RGB image; its detections as numpy."""
    hwc = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    boxes, scores, labels = session.run(list(OUTPUT_NAMES), {INPUT_NAME: hwc})
    return dict(boxes=boxes, scores=scores, labels=labels)


def check_images(paths: Sequence[str]) -> list[tuple[str, Tensor]]:
    """The images of the check, uint8 (3, H, W) RGB: each file at its own size and its
    top-left crop of 80% x 85% (another size and aspect ratio, real content).

    Raises:
        FileNotFoundError: a file is missing; ValueError: it cannot be decoded.
    """
    import os

    from torchvision.io import ImageReadMode, decode_image, read_file

    out = []
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f'check image not found: {path}')
        try:
            img = decode_image(read_file(path), mode=ImageReadMode.RGB)
        except (RuntimeError, ValueError) as err:
            raise ValueError(f'cannot decode check image {path}: {err}') from None
        h, w = int(img.shape[-2]), int(img.shape[-1])
        crop = img[:, :max(1, int(h * 0.8)), :max(1, int(w * 0.85))].contiguous()
        out += [(f'{path} ({w}x{h})', img),
                (f'{path} cropped ({crop.shape[-1]}x{crop.shape[-2]})', crop)]
    return out


def verify(onnx_model: Union[bytes, str], model, pipeline, images: Sequence[tuple[str, Tensor]],
           score_thr: float = SCORE_THR, min_iou: float = MIN_IOU,
           score_atol: float = SCORE_ATOL, max_per_img: Optional[int] = None) -> Match:
    """Run the exported file with onnxruntime and ``model`` with PyTorch (the test pipeline,
    :func:`~zoo.export.graph.run_pytorch`) on the same images and compare their detections
    (:func:`~zoo.export.check.match_detections`).

    Args:
        onnx_model: the exported file's path (as ``zoo export`` checks it), or its bytes.
        images: ``(name, uint8 (3, H, W) RGB)`` pairs (:func:`check_images`).

    Returns:
        The merged :class:`~zoo.export.check.Match` of all images.
    """
    session = ort_session(onnx_model)
    total = Match()
    with torch.no_grad():
        for name, image in images:
            ref = run_pytorch(model, pipeline, image)
            cand = run_onnx(session, image)
            total.merge(match_detections(ref, cand, score_thr, min_iou, score_atol, max_per_img),
                        name)
    return total
