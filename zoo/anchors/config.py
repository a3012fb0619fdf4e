"""Writing fitted anchors into a config that inherits another (``zoo anchors --write``).

Only a ``YOLOAnchorGenerator`` takes (w, h) anchors as they are: the k anchors, sorted by area,
are split into as many groups as it has strides, the smallest for the finest level (YOLOv3 sec.
2.3). The anchor schemes of Faster R-CNN (``AnchorGenerator``, ``LegacyAnchorGenerator``) are
sizes x aspect ratios, a grid that k free (w, h) pairs do not fill; for them ``zoo anchors``
reports the fit and the current anchors' quality but does not write a config.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

from registry import ConfigError

from .kmeans import split_by_area

__all__ = ['anchor_config_text', 'config_anchor_shapes', 'find_anchor_generators']

DEFAULT_YOLO_STRIDES = (8, 16, 32)


def find_anchor_generators(node: Any, path: str = 'model') -> Iterator[tuple[str, dict]]:
    """Every ``anchor_generator`` config under ``node``: (key path, its dict), in key order."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f'{path}.{key}'
            if key == 'anchor_generator' and isinstance(value, dict):
                yield sub, value
            else:
                yield from find_anchor_generators(value, sub)


def _nested(path: str, leaf: str) -> str:
    """``model.bbox_head.anchor_generator`` + leaf -> ``model = dict(bbox_head=dict(...=leaf))``."""
    keys = path.split('.')
    text = leaf
    for key in reversed(keys[1:]):
        text = f'dict({key}={text})'
    return f'{keys[0]} = {text}\n'


def anchor_config_text(base_config: str, out_path: str, model_cfg: dict, anchors,
                       comment: str = '') -> str:
    """The text of a config that inherits ``base_config`` and sets its YOLO anchors.

    Args:
        base_config: path of the config to inherit (written relative to ``out_path``'s folder
            when both lie under one folder other than the root, else absolute).
        out_path: where the new config will be written.
        model_cfg: the ``model`` dict of ``base_config`` (to find the anchor generator).
        anchors: (k, 2) fitted (w, h), any order (sorted by area here).
        comment: lines to put at the top (``#`` added).

    Raises:
        ConfigError: the model has no ``YOLOAnchorGenerator`` (naming the anchor generators it
            has), or k is not a multiple of its number of levels.
    """
    gens = list(find_anchor_generators(model_cfg))
    yolo = [(p, g) for p, g in gens if g.get('type') == 'YOLOAnchorGenerator']
    if not yolo:
        held = ', '.join(f'{p} ({g.get("type")})' for p, g in gens) or 'no anchor generator'
        raise ConfigError(f'--write sets the anchors of a YOLOAnchorGenerator, and this config has '
                          f'{held}; sizes x ratios schemes (Faster R-CNN) do not take k free '
                          '(w, h) anchors, so only the report is printed for them')
    path, gen = yolo[0]
    strides = list(gen.get('strides', DEFAULT_YOLO_STRIDES))
    try:
        levels = split_by_area(anchors, len(strides))
    except ValueError as err:
        raise ConfigError(f'{path}: {err} (strides {strides})') from None
    base, folder = os.path.abspath(base_config), os.path.dirname(os.path.abspath(out_path))
    if os.path.commonpath([base, folder]) != os.path.abspath(os.sep):  # same tree: relative
        base = os.path.relpath(base, folder)
    sizes = '[' + ',\n    '.join('[' + ', '.join(f'({w}, {h})' for w, h in lv) + ']'
                                 for lv in levels) + ']'
    head = ''.join(f'# {line}\n' for line in comment.splitlines())
    return (f'{head}_base_ = [{base!r}]\n'
            + _nested(path, f'dict(base_sizes={sizes})'))


def config_anchor_shapes(cfg) -> list:
    """(key path, type, float64 (K, 2) anchor (w, h) in pixels) of every anchor generator of
    ``cfg.model``, each built from the ``anchor_generator`` catalogue."""
    import numpy as np

    import registry
    model = cfg['model']
    model = model.to_dict() if hasattr(model, 'to_dict') else dict(model)
    out = []
    for path, gen_cfg in find_anchor_generators(model):
        gen = registry.build('anchor_generator', gen_cfg, key=path)
        boxes = np.concatenate([b.numpy() for b in gen.base_anchors]).astype(np.float64)
        out.append((path, gen_cfg.get('type'), boxes[:, 2:] - boxes[:, :2]))
    return out
