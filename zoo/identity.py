"""Checkpoint identity: what model a checkpoint holds, recorded when it is saved and compared
with the config whenever it is loaded (``zoo test``, ``zoo infer``, ``load_from``, ``--resume``).

The record, ``checkpoint['meta']['zoo_model']`` (beside the ``meta`` mmengine writes)::

    {'detector': 'FasterRCNN',                  # model.type
     'architecture': {...},                     # the model config without training-only keys
     'fingerprint': '3f2a...',                  # sha256 of the architecture (16 hex digits)
     'classes': ['RBC', 'WBC', 'Platelets'],    # or None when the config names none
     'zoo_version': '0.1.0'}

The architecture is the ``model`` dict without the keys that do not change which weights exist
or what they mean (:data:`TRAINING_ONLY_KEYS`, and every key starting with ``loss``): changing a
loss, a sampler, a test threshold, the normalization constants or the frozen stages keeps a
checkpoint usable; changing a depth, a channel count, an anchor set or ``num_classes`` does not.

A mismatch is refused with a :class:`~registry.ConfigError` (exit status 2) naming the file, the
config and the first differing key paths with both values. Checkpoints without a record (made
elsewhere, or converted) are compared by their weights: every name and shape must match.
Partial loading (``load_partial=True`` in the config, ``zoo train --load-partial``) loads the
tensors whose name and shape match, and lists what it skipped; it is for fine-tuning
(``load_from``) only, never for ``--resume``.
"""
from __future__ import annotations

import hashlib
import json
import re
import warnings
from typing import Any, Optional

from registry import ConfigError

TRAINING_ONLY_KEYS = frozenset({
    'train_cfg', 'test_cfg', 'init_cfg', 'pretrained', 'data_preprocessor', 'channels_last',
    'frozen_stages', 'norm_eval', 'with_cp', 'dropout',
})


def architecture(model_cfg: Any) -> Any:
    """The architecture-relevant part of a model config, as plain JSON types (tuples become
    lists, keys sorted), without :data:`TRAINING_ONLY_KEYS` and ``loss*`` keys."""
    if isinstance(model_cfg, dict):
        return {k: architecture(v) for k, v in sorted(model_cfg.items())
                if k not in TRAINING_ONLY_KEYS and not str(k).startswith('loss')}
    if isinstance(model_cfg, (list, tuple)):
        return [architecture(v) for v in model_cfg]
    if isinstance(model_cfg, (str, int, float, bool)) or model_cfg is None:
        return model_cfg
    return repr(model_cfg)


def config_classes(cfg) -> Optional[list]:
    """The class names a config trains or tests with (``classes``, else the test/train dataset's)."""
    names = cfg.get('classes')
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        if names:
            break
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        names = dataset.get('classes') or (dataset.get('metainfo') or {}).get('classes')
    return list(names) if names else None


def model_identity(cfg, classes: Optional[list] = None) -> dict:
    """The identity record of the model ``cfg`` builds (see the module docstring)."""
    import zoo
    arch = architecture(cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model))
    digest = hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()[:16]
    return dict(detector=cfg.model.get('type'), architecture=arch, fingerprint=digest,
                classes=list(classes) if classes else config_classes(cfg),
                zoo_version=zoo.__version__)


def _differences(a: Any, b: Any, path: str = 'model') -> list[str]:
    """Key paths where two architectures differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f'{path}.{key}: {a.get(key, "(absent)")!r} in the checkpoint, '
                           f'{b.get(key, "(absent)")!r} in the config')
            else:
                out += _differences(a[key], b[key], f'{path}.{key}')
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        pairs = enumerate(zip(a, b, strict=True))
        return [d for i, (x, y) in pairs for d in _differences(x, y, f'{path}.{i}')]
    return [] if a == b else [f'{path}: {a!r} in the checkpoint, {b!r} in the config']


def _strip(key: str) -> str:
    return re.sub(r'^module\.', '', key)


def compare_weights(model, state: dict) -> tuple[list, list, list]:
    """(missing, unexpected, (name, shape in file, shape in model) mismatched) between a model
    and a state dict."""
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = {_strip(k): tuple(v.shape) for k, v in state.items() if hasattr(v, 'shape')}
    missing = [k for k in own if k not in theirs]
    unexpected = [k for k in theirs if k not in own]
    mismatched = [(k, theirs[k], own[k]) for k in own if k in theirs and theirs[k] != own[k]]
    return missing, unexpected, mismatched


def _listed(items: list, n: int = 5) -> str:
    return ', '.join(map(str, items[:n])) + (f' and {len(items) - n} more' if len(items) > n else '')


def check_checkpoint(checkpoint: dict, cfg, model, filename: str, partial: bool = False,
                     resume: bool = False) -> dict:
    """Compare a loaded checkpoint with the config and the model built from it.

    Args:
        checkpoint: the loaded file (a dict with ``state_dict`` and ``meta``, or a bare state
            dict).
        cfg: the mmengine ``Config`` (``cfg.model``, its classes, ``cfg.filename``).
        model: the model built from ``cfg`` (its ``state_dict`` names and shapes).
        filename: the checkpoint's path, for the messages.
        partial: load what fits and report the rest instead of refusing.
        resume: the checkpoint is to be resumed from (needs ``meta.epoch``/``meta.iter``; no
            partial loading).

    Returns:
        The state dict to load (filtered to the tensors that fit when ``partial``).

    Raises:
        ConfigError: the recorded identity differs from the config's (detector, architecture
            key paths or class names, both sides named), the weights do not fit the model
            (names and shapes listed), or a resume from a file without training state.
    """
    config = getattr(cfg, 'filename', None) or 'the config'
    if not isinstance(checkpoint, dict):
        raise ConfigError(f'checkpoint {filename!r} holds a {type(checkpoint).__name__}, not a '
                          'state dict or a checkpoint dict')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        raise ConfigError(f'checkpoint {filename!r}: its state_dict is a {type(state).__name__}, '
                          'not a dict of tensors')
    meta = checkpoint.get('meta') if isinstance(checkpoint.get('meta'), dict) else {}
    if resume:
        if partial:
            raise ConfigError('load_partial cannot be used with --resume: a resumed run needs '
                              'every weight of the checkpoint')
        if 'epoch' not in meta or 'iter' not in meta:
            raise ConfigError(f'--resume {filename}: the file holds no training state (no '
                              'meta.epoch/meta.iter; it is not a checkpoint of `zoo train`). Use '
                              'it as load_from to start a new run from its weights')
    record, mine = meta.get('zoo_model'), model_identity(cfg)
    problems = []
    if isinstance(record, dict):
        if record.get('detector') != mine['detector']:
            problems.append(f'the checkpoint holds a {record.get("detector")} '
                            f'(fingerprint {record.get("fingerprint")}), the config builds a '
                            f'{mine["detector"]} (fingerprint {mine["fingerprint"]})')
        elif record.get('fingerprint') != mine['fingerprint']:
            diffs = _differences(record.get('architecture'), mine['architecture'])
            problems.append(f'both are {mine["detector"]}, but the architectures differ '
                            f'(fingerprint {record.get("fingerprint")} vs {mine["fingerprint"]}): '
                            + _listed(diffs or ['(no key differs; another zoo version?)']))
        if record.get('classes') and mine['classes'] and \
                list(record['classes']) != list(mine['classes']):
            problems.append(f'classes {tuple(record["classes"])} in the checkpoint, '
                            f'{tuple(mine["classes"])} in the config')
    missing, unexpected, mismatched = compare_weights(model, state)
    if not problems and (missing or unexpected or mismatched):
        parts = []
        if missing:
            parts.append(f'{len(missing)} weight(s) of the model missing from the file '
                         f'({_listed(missing)})')
        if unexpected:
            parts.append(f'{len(unexpected)} tensor(s) of the file unknown to the model '
                         f'({_listed(unexpected)})')
        if mismatched:
            parts.append(f'{len(mismatched)} shape(s) differ (' + _listed(
                [f'{k}: {a} in the file vs {b} in the model' for k, a, b in mismatched]) + ')')
        problems.append('the weights do not fit the model: ' + '; '.join(parts))
    if problems and not partial:
        raise ConfigError(f'checkpoint {filename!r} does not match {config}: ' + '; '.join(problems)
                          + '. Use the config the checkpoint was trained with, or, to load only '
                          'the weights that fit (fine-tuning), set load_partial=True (zoo train '
                          '--load-partial)')
    if not partial:
        return state
    bad = set(unexpected) | {k for k, _, _ in mismatched}
    kept = {k: v for k, v in state.items() if _strip(k) not in bad}
    def some(items: list) -> str:
        return f' ({_listed(items, 10)})' if items else ''
    warnings.warn(f'partial load of {filename}: {len(kept)} tensor(s) loaded; skipped '
                  f'{len(unexpected)} unknown to the model{some(sorted(unexpected))} and '
                  f'{len(mismatched)} of another shape{some([k for k, _, _ in mismatched])}; '
                  f'{len(missing)} weight(s) of the model keep their initial values'
                  f'{some(missing)}', stacklevel=2)
    return kept
