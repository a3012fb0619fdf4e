"""The whole detector as one traceable module: raw image in, detections in original pixels out.

:class:`ExportableDetector` chains :class:`~zoo.export.preprocess.GraphPreprocess` (the test
pipeline's resize, the data preprocessor's normalization and padding) and the detector's own
``predict`` (backbone, heads, box decoding, NMS, rescaling to original pixels), which it calls
with one data sample whose ``img_shape`` and ``scale_factor`` are tensors computed in the
graph. The heads' inference code is the one ``zoo test`` runs: under tracing
(``torch.jit.is_tracing()``) it keeps sizes symbolic and leaves out only the per-image
grouping of a batch, so the graph serves one image of any size.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from .preprocess import GraphPreprocess, resize_params

#: the names of the ONNX graph's input and outputs
INPUT_NAME = 'image'
OUTPUT_NAMES = ('boxes', 'scores', 'labels')


class ExportableDetector(nn.Module):
    """A detector (eval mode) with its preprocessing, for one raw image.

    Args:
        model: a built detector (:class:`~zoo.detectors.base.BaseDetector`) with its weights.
        preprocess: the graph's image preparation (see :func:`build_exportable`).

    ``forward(image)``: ``image`` uint8 (H, W, 3) RGB, any H and W ->
    ``(boxes float32 (N, 4) xyxy in pixels of the image, scores float32 (N,), labels int64
    (N,))``, best first; exactly the detections of ``model.predict`` for that image.
    """

    def __init__(self, model: nn.Module, preprocess: GraphPreprocess):
        super().__init__()
        self.model = model
        self.preprocess = preprocess

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        from zoo.structures import DetDataSample

        inputs, img_shape, scale_factor, ori_shape = self.preprocess(image)
        sample = DetDataSample()
        # set_field, not the metainfo argument: that deep-copies its values, and a copy of a
        # traced tensor is a constant of the graph
        for name, value in (('img_shape', img_shape), ('scale_factor', scale_factor),
                            ('ori_shape', ori_shape)):
            sample.set_field(value, name, field_type='metainfo')
        pred = self.model.predict(inputs, [sample])[0].pred_instances
        return pred.bboxes, pred.scores, pred.labels


def build_exportable(cfg, model: nn.Module) -> ExportableDetector:
    """The exportable form of ``model`` under config ``cfg``: the test pipeline's ``Resize``
    (``test_dataloader``, else ``val_dataloader``) and the model's data preprocessor.

    Raises:
        ConfigError: the config has no test pipeline, or one the graph cannot reproduce
            (:func:`~zoo.export.preprocess.resize_params`); the data preprocessor is not the
            zoo's ``DetDataPreprocessor`` or converts BGR.
    """
    from registry import ConfigError
    from zoo.config import test_pipeline_of

    pipeline, key = test_pipeline_of(cfg)
    resize = resize_params(pipeline, key)
    pre = model.data_preprocessor
    if not all(hasattr(pre, a) for a in ('pad_size_divisor', 'pad_value')):
        raise ConfigError(f'model.data_preprocessor: ONNX export reproduces DetDataPreprocessor, '
                          f'got {type(pre).__name__}')
    normalize = getattr(pre, '_normalize', True)
    mean = pre.mean.flatten().tolist() if normalize else None
    std = pre.std.flatten().tolist() if normalize else None
    graph_pre = GraphPreprocess(resize, mean, std, pre.pad_size_divisor, pre.pad_value)
    return ExportableDetector(model, graph_pre).eval()


def image_pipeline(cfg):
    """The config's test pipeline (``test_dataloader``, else ``val_dataloader``) without the
    steps that read files (images, annotations), built: it prepares an image already in memory.

    Raises:
        ConfigError: the config has neither loader.
    """
    import registry
    from zoo.config import test_pipeline_of

    pipeline, key = test_pipeline_of(cfg)
    steps = [t for t in pipeline if t.get('type') != 'LoadImageFromFile']
    return registry.build('transform', dict(type='Compose', transforms=steps),
                          key=key.rsplit('.', 1)[0])


@torch.no_grad()
def run_pytorch(model: nn.Module, pipeline, image: Tensor) -> dict:
    """The detections of ``model`` for one image, as ``zoo test`` makes them: the test
    ``pipeline`` (:func:`image_pipeline`), the data preprocessor, ``predict``.

    Args:
        image: uint8 (3, H, W) RGB, as ``LoadImageFromFile`` decodes a file.

    Returns:
        ``dict(boxes float32 (N, 4) xyxy original pixels, scores (N,), labels int64 (N,))``.
    """
    from torchvision import tv_tensors

    h, w = int(image.shape[-2]), int(image.shape[-1])
    data = pipeline(dict(img=tv_tensors.Image(image), img_shape=(h, w), ori_shape=(h, w),
                         scale_factor=(1.0, 1.0), img_id=0))
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]), False)
    pred = model(**batch, mode='predict')[0].pred_instances
    return dict(boxes=pred.bboxes, scores=pred.scores, labels=pred.labels)
