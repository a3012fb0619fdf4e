"""A trained detector as a Python object: build once, call on images, get
:class:`~zoo.inference.Detections` in original-image pixels.

The references are mmdet's ``DetInferencer`` and Detectron2's ``DefaultPredictor``: built from a
config and a checkpoint, the config's test pipeline as preprocessing (what ``zoo test`` runs),
no global state (nothing is registered, no torch setting is changed beyond what building the
model needs).
"""
from __future__ import annotations

import contextlib
import copy
import os
from typing import Any, Iterator, Optional, Union

import torch

from .detections import Detections
from .images import InputImage, expand_inputs, loaded_results

__all__ = ['Detector', 'test_pipeline', 'class_names']


def test_pipeline(cfg) -> list:
    """The config's test pipeline (``test_dataloader``'s, else ``val_dataloader``'s), without
    the steps that read annotations (:func:`zoo.config.test_pipeline_of`).

    Raises:
        ConfigError: the config has neither loader.
    """
    from zoo.config import test_pipeline_of
    return test_pipeline_of(cfg)[0]


def class_names(cfg) -> tuple[str, ...]:
    """The config's class names: its ``classes``, else its test (or val) dataset's; () if none."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    names = cfg.get('classes') or (loader.get('dataset') or {}).get('classes') or ()
    return tuple(str(n) for n in names)


def _load_config(config):
    from mmengine.config import Config

    from zoo.config import load_config
    if isinstance(config, Config):
        return copy.deepcopy(config)  # the caller's config is never changed
    if isinstance(config, dict):
        return Config(copy.deepcopy(config))
    if isinstance(config, (str, os.PathLike)):
        return load_config(os.fspath(config))
    raise TypeError(f'config must be a config file path, a zoo:: recipe, an mmengine Config or a '
                    f'dict, got {type(config).__name__}')


class Detector:
    """A trained detector: ``Detector(config, checkpoint)(images)`` -> detections.

    Args:
        config: a config file, a shipped recipe (``'zoo::yolo/yolov3_bccd.py'``), an mmengine
            ``Config`` or a dict (copied, never changed); or, with ``checkpoint=None``, a work
            dir of ``zoo train`` (see :meth:`from_work_dir`).
        checkpoint: a checkpoint file, or a work dir (its ``best_*.pth``, else its last), as
            ``zoo test`` takes it.
        device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        amp: run the model under ``torch.autocast`` (bfloat16 on the CPU, float16 on CUDA);
            the outputs are float32 either way. ``None`` (default): the config's ``amp``
            (``zoo test`` does the same), else float32. With ``amp``, the first call keeps the
            convolution and linear weights that autocast casts in its low precision from then
            on (the same detections bit for bit, faster, half the bytes for those weights;
            :mod:`zoo.inference.low_precision_weights`), so ``model`` is for inference only.
        batch_size: images per forward pass. Images of one batch are padded to a common size
            (the data preprocessor's), so with a ``batch_size`` above 1 scores and boxes may
            differ in the last digits from batch 1 (padding, and channels-last convolutions
            that round a batch differently; as in mmdet and ``zoo test``); batch 1 (the
            default) gives exactly ``zoo test``'s detections.
        score_thr: keep detections scoring at least this (default 0: all the model returns
            after its own ``test_cfg`` threshold and NMS).
        channel_order: ``'rgb'`` (default) or ``'bgr'`` (OpenCV's ``cv2.imread``): the channel
            order of numpy arrays and tensors given to :meth:`__call__`. PIL images and files are
            always read as RGB.
        num_proposals: also return the K best RPN proposals of a two-stage model (0: none).

    Raises:
        ConfigError: the config cannot be read or built, has no test pipeline, or
            ``checkpoint`` is no checkpoint / a work dir without one (the path is named).
        FileNotFoundError, CheckpointError: see :func:`zoo.checkpoint.load_checkpoint_file`.
        ConfigError: the checkpoint holds another model than the config's (its fingerprint
            differs: :func:`zoo.identity.check_checkpoint` names both and the differing keys).
        ValueError: a bad ``device``, ``amp``, ``batch_size``, ``score_thr`` or ``channel_order``.
        ConfigError: the config's ``amp`` is not a bool.
    """

    def __init__(self, config, checkpoint: Optional[str] = None, device: str = 'cpu',
                 amp: Optional[bool] = None, batch_size: int = 1, score_thr: float = 0.0,
                 channel_order: str = 'rgb', num_proposals: int = 0):
        import registry
        from zoo.checkpoint import resolve_checkpoint
        from zoo.detectors.builder import load_model
        if checkpoint is None:
            if isinstance(config, (str, os.PathLike)) and os.path.isdir(config):
                checkpoint = os.fspath(config)
                config = saved_config(checkpoint)
            else:
                raise ValueError('Detector needs a checkpoint (a file or a work dir), or a work '
                                 f'dir as config; got config={config!r} and no checkpoint')
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got {batch_size!r}')
        if not 0.0 <= float(score_thr) <= 1.0:
            raise ValueError(f'score_thr must lie in [0, 1] (scores are probabilities), got '
                             f'{score_thr!r}')
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        device = str(device)
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError(f'device {device!r}: no CUDA GPU is visible; use device=\'cpu\'')
        self.cfg = _load_config(config)
        self.checkpoint = resolve_checkpoint(os.fspath(checkpoint))
        if amp is None:  # the config's precision, as zoo test runs it
            amp = self.cfg.get('amp', False)
            if not isinstance(amp, bool):
                raise registry.ConfigError(f"amp = {amp!r} in the config: expected True or False")
        elif not isinstance(amp, bool):
            raise ValueError(f'amp must be True, False or None (the config\'s), got {amp!r}')
        self.device, self.amp, self.batch_size = device, amp, batch_size
        self.score_thr, self.channel_order = float(score_thr), channel_order
        self.num_proposals = int(num_proposals)
        self.class_names = class_names(self.cfg)
        self.model = load_model(self.cfg, self.checkpoint, device)
        self._weights_cast = False
        steps = test_pipeline(self.cfg)
        self.pipeline = registry.build('transform', dict(type='Compose', transforms=steps),
                                       key='test_dataloader.dataset.pipeline')
        # in-memory images skip the loading step; the rest of the pipeline is the same
        loads = bool(steps) and steps[0].get('type') == 'LoadImageFromFile'
        self._array_pipeline = registry.build(
            'transform', dict(type='Compose', transforms=steps[1:] if loads else steps),
            key='test_dataloader.dataset.pipeline') if loads else None

    @classmethod
    def from_work_dir(cls, work_dir: str, **kwargs) -> 'Detector':
        """The detector trained in ``work_dir`` by ``zoo train``: its saved config (the one the
        run used, ``--cfg-options`` and ``--data`` included) and its best checkpoint, else its
        last. ``kwargs`` as for :class:`Detector`.

        Raises:
            ConfigError: ``work_dir`` is no folder, holds no saved config or no checkpoint.
        """
        return cls(saved_config(work_dir), work_dir, **kwargs)

    def __repr__(self) -> str:
        return (f'Detector({self.cfg.model.get("type")}, checkpoint={self.checkpoint!r}, '
                f'device={self.device!r}, amp={self.amp}, classes={self.class_names})')

    def __call__(self, inputs: Any) -> Union[Detections, list[Detections]]:
        """Detect objects in ``inputs``.

        Args:
            inputs: one image or a list of them; an image is a path (a file, or a folder: its
                image files, sorted), a numpy array (H, W, 3) uint8 (channel order as
                ``channel_order``; grey (H, W) too), a PIL image, or a tensor (3, H, W), uint8
                or float in [0, 1].

        Returns:
            For one image (not a folder), its :class:`Detections`; otherwise a list, one per
            image in input order (a folder's images in name order).

        Raises:
            FileNotFoundError: a path that does not exist (named), before any inference.
            ValueError: an array or tensor of the wrong shape, dtype or range; a folder without
                images; an in-memory image for a pipeline that does not start with
                LoadImageFromFile.
            TypeError: an input of another kind.
            DatasetError: an image file that cannot be decoded (named).
        """
        images, single = expand_inputs(inputs, self.channel_order)
        results = list(self.iter_batches(images))
        return results[0] if single else results

    def iter_batches(self, images: list[InputImage]) -> Iterator[Detections]:
        """:class:`Detections` of already expanded ``images``, ``batch_size`` at a time (the
        lower-level form of :meth:`__call__`)."""
        for start in range(0, len(images), self.batch_size):
            yield from self._detect(images[start:start + self.batch_size])

    def _prepare(self, image: InputImage) -> dict:
        if image.path is not None:
            return self.pipeline(dict(img_path=image.path, img_id=image.index))
        if self._array_pipeline is None:
            raise ValueError('this config\'s test pipeline does not start with LoadImageFromFile, '
                             'so only image files can be given, not in-memory images')
        return self._array_pipeline(loaded_results(image))

    def _autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        from zoo.runner.precision import autocast
        kind = 'cuda' if self.device.startswith('cuda') else 'cpu'
        return autocast(kind, cache_enabled=False)  # no second copy of the weights

    @contextlib.contextmanager
    def _cast_weights_once(self):
        """On the first call under autocast that succeeds: keep the layers' weights in
        autocast's dtype from then on (:func:`~zoo.inference.low_precision_weights.
        cast_autocast_weights`; the same outputs bit for bit, without casting every weight for
        every image)."""
        if not self.amp or self._weights_cast:
            yield
            return
        from .low_precision_weights import cast_autocast_weights
        with cast_autocast_weights(self.model):
            yield
        self._weights_cast = True

    def _detect(self, images: list[InputImage]) -> list[Detections]:
        data = [self._prepare(image) for image in images]
        with torch.no_grad():
            batch = self.model.data_preprocessor(
                dict(inputs=[d['inputs'] for d in data],
                     data_samples=[d['data_samples'] for d in data]), False)
            with self._autocast(), self._cast_weights_once():
                samples = self.model(**batch, mode='predict')
        out = []
        for image, sample in zip(images, samples, strict=True):
            pred = sample.pred_instances
            keep = pred.scores >= self.score_thr
            proposals = None
            if self.num_proposals > 0 and 'proposals' in sample:  # one-stage models make none
                sx, sy = sample.metainfo.get('scale_factor', (1.0, 1.0))[:2]
                props = sample.proposals.bboxes[:self.num_proposals].detach().float().cpu()
                proposals = props / torch.tensor([sx, sy, sx, sy])
            h, w = sample.metainfo['ori_shape'][:2]
            out.append(Detections(
                boxes=pred.bboxes[keep].detach().float().cpu().reshape(-1, 4),
                scores=pred.scores[keep].detach().float().cpu(),
                labels=pred.labels[keep].detach().cpu().long(),
                class_names=self.class_names, image_path=image.path, image_shape=(int(h), int(w)),
                proposals=proposals, image=image.image))
        return out


def saved_config(work_dir: str):
    """The config a ``zoo train`` work dir was trained with (see
    :func:`zoo.runner.workdir.saved_config`), loaded.

    Raises:
        ConfigError: no such folder, or no saved config in it.
    """
    from zoo.config import load_config
    from zoo.runner.workdir import saved_config as path_of
    return load_config(path_of(work_dir))
