"""The box sizes a detector trains on, read from a config's dataset and resize step.

Anchors are in pixels of the network input, so the dataset's boxes (original-image pixels) are
scaled as the training pipeline's first ``Resize`` scales their image (per image: it depends on
the image's size when ``keep_ratio`` is set). Boxes flagged ignore (VOC "difficult") are left
out. No image is read: sizes come from the annotations.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

import registry
from registry import ConfigError

__all__ = ['box_sizes_from_config', 'find_resize']


def find_resize(pipeline) -> Optional[dict]:
    """The first ``Resize`` step of a pipeline (a list of transform configs), or None."""
    for step in pipeline or ():
        if isinstance(step, dict) and step.get('type') == 'Resize':
            return dict(step)
    return None


def box_sizes_from_config(cfg, split: Optional[str] = 'train') -> tuple[np.ndarray, str]:
    """Widths and heights of the training boxes of ``cfg``'s dataset, in network-input pixels.

    Args:
        cfg: a loaded config (mmengine ``Config`` or dict) with ``train_dataloader.dataset``.
        split: the dataset's ``split`` to read instead of the config's (``'train'``,
            ``'val'``, ...); None keeps the config's.

    Returns:
        ``(wh, how)``: float64 (N, 2) sizes and a line saying how they were scaled.

    Raises:
        ConfigError: no ``train_dataloader.dataset``; a dataset type that cannot be built; no
            box at all in the split.
    """
    loader = cfg.get('train_dataloader') if hasattr(cfg, 'get') else None
    if not loader or 'dataset' not in loader:
        raise ConfigError('the config has no train_dataloader.dataset to read boxes from')
    ds_cfg = dict(loader['dataset'])
    resize_cfg = find_resize(ds_cfg.get('pipeline'))
    ds_cfg['pipeline'] = []
    if split is not None:
        ds_cfg['split'] = split
    registry.discover()
    dataset = registry.build('dataset', ds_cfg, key='train_dataloader.dataset')
    resize = registry.build('transform', resize_cfg, key='train_dataloader.dataset.pipeline') \
        if resize_cfg is not None else None
    sizes = []
    for i in range(len(dataset)):
        info = dataset.data_list[i]
        ann = dataset.get_ann_info(i)
        boxes = ann['bboxes'][~ann['ignore_flags']].astype(np.float64)
        if boxes.size == 0:
            continue
        h, w = int(info['height']), int(info['width'])
        nh, nw = resize.target_size((h, w)) if resize is not None else (h, w)
        sizes.append((boxes[:, 2:] - boxes[:, :2]) * np.array([nw / w, nh / h]))
    if not sizes:
        raise ConfigError(f'{type(dataset).__name__} split {split!r} has no (non-ignored) box to '
                          'fit anchors to')
    how = (f'boxes scaled as the training pipeline resizes their images ({resize!r})'
           if resize is not None else 'boxes in original-image pixels (no Resize in the pipeline)')
    return np.concatenate(sizes), how
