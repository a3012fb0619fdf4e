"""A run's config from a dataset folder (``--data``), and the check that the model's number of
classes agrees with the data (every run).

:func:`apply_data` sets, from a :class:`~zoo.data.detect.DataSource`: the dataset of every
dataloader (``train``, ``val``, ``test``; the test loader uses the ``test`` split when there is
one, else ``val``), the ``classes`` of every evaluator, every ``num_classes`` of the model (the
class-agnostic RPN excepted), and the top-level ``classes``. The dataset keys that are not about
which data (``pipeline``, ``test_mode``, ``filter_empty_gt``, ``skip_bad_samples``, ``indices``)
are kept from the recipe, so ``--cfg-options train_dataloader.dataset.indices=8`` still works.
The run is recorded in the config's ``data_source`` (path, format, where the class names came
from, and the derived split files with the fraction and seed that made them).

A folder without a validation split gets one (:func:`derive_val_split`): ``--val-fraction`` of
the training images (at least one), drawn with ``numpy.random.default_rng(seed)``, ``seed`` 0;
the two lists are written to ``<work dir>/data_splits/{train,val}.txt`` and the config points at
them, so the written config repeats the run without the original flag.

:func:`check_num_classes` runs for every ``zoo train`` and ``zoo test``, with or without
``--data``: a model ``num_classes`` that differs from the number of dataset classes (fewer
makes a box-coder broadcast error mid-epoch; more trains silently) is a
:class:`~registry.errors.ConfigError` naming both numbers and both key paths.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from registry import ConfigError

from ..datasets.split_files import write_split_file
from .detect import DataSource, detect_data, split_members

#: the dataset keys a recipe keeps when ``--data`` replaces its data
KEPT_DATASET_KEYS = ('pipeline', 'test_mode', 'filter_empty_gt', 'skip_bad_samples', 'indices')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATORS = ('val_evaluator', 'test_evaluator')
#: the seed of a split carved out by --val-fraction
SPLIT_SEED = 0


def _plain(node: Any) -> Any:
    return node.to_dict() if hasattr(node, 'to_dict') else node


def derive_val_split(source: DataSource, fraction: float, out_dir: str,
                     seed: int = SPLIT_SEED) -> DataSource:
    """Give ``source`` a ``val`` split carved out of ``train`` (see the module docstring).

    Returns ``source`` unchanged when it has a ``val`` split.

    Raises:
        ConfigError: ``fraction`` not in (0, 1), or too few training images to split.
    """
    if 'val' in source.splits:
        return source
    if not 0 < fraction < 1:
        raise ConfigError(f'--val-fraction must lie in (0, 1), got {fraction}')
    members = split_members(source, 'train')
    if len(members) < 2:
        raise ConfigError(f'--data {source.root}: the training split has {len(members)} image(s); '
                          f'at least 2 are needed to carve out a validation split')
    n_val = min(max(1, int(round(fraction * len(members)))), len(members) - 1)
    order = np.random.default_rng(seed).permutation(len(members))
    val_idx = set(order[:n_val].tolist())
    lists = {'train': [m for i, m in enumerate(members) if i not in val_idx],
             'val': [m for i, m in enumerate(members) if i in val_idx]}
    header = (f'split of {source.root} made by --val-fraction {fraction} with seed {seed}: '
              f'{len(members) - n_val} train, {n_val} val images')
    for name, ids in lists.items():
        path = osp.abspath(osp.join(out_dir, f'{name}.txt'))
        write_split_file(path, ids, header)
        cfg = dict(source.splits['train'])
        cfg['split'] = path
        source.splits[name] = cfg
        source.derived[name] = path
    source.derived.update(val_fraction=fraction, seed=seed)
    return source


def model_num_classes(model: Any, path: str = 'model') -> Iterator[tuple[str, int]]:
    """Every ``num_classes`` of a model config: (key path, value), the RPN head excepted (it
    is class-agnostic: one objectness per anchor)."""
    model = _plain(model)
    if isinstance(model, dict):
        for key, value in model.items():
            sub = f'{path}.{key}'
            if key == 'rpn_head':
                continue
            if key == 'num_classes' and isinstance(value, int) and not isinstance(value, bool):
                yield sub, value
            else:
                yield from model_num_classes(value, sub)
    elif isinstance(model, (list, tuple)):
        for i, value in enumerate(model):
            yield from model_num_classes(value, f'{path}.{i}')


def _coco_categories(ds: dict) -> Optional[tuple]:
    ann = ds.get('ann_file')
    if not ann:
        return None
    path = osp.join(ds['data_root'], ann) if ds.get('data_root') else ann
    try:
        with open(path, encoding='utf-8') as f:
            cats = json.load(f).get('categories') or []
    except (OSError, ValueError, AttributeError):
        return None  # the dataset reports an unreadable file itself, naming it
    return tuple(str(c.get('name')) for c in sorted(cats, key=lambda c: c.get('id', 0)))


def dataset_classes(cfg) -> list[tuple[str, tuple]]:
    """(key path, class names) of every dataloader's dataset and every evaluator that names its
    classes (a COCO dataset without ``classes`` has its file's categories)."""
    out = []
    for key in LOADERS:
        loader = _plain(cfg.get(key))
        ds = loader.get('dataset') if isinstance(loader, dict) else None
        if not isinstance(ds, dict):
            continue
        if ds.get('classes') is not None:
            out.append((f'{key}.dataset.classes', tuple(ds['classes'])))
        elif ds.get('type') == 'CocoDataset':
            cats = _coco_categories(ds)
            if cats is not None:
                out.append((f'{key}.dataset (the categories of {ds.get("ann_file")})', cats))
    for key in EVALUATORS:
        evs = _plain(cfg.get(key))
        evs = evs if isinstance(evs, list) else [evs] if isinstance(evs, dict) else []
        for i, ev in enumerate(evs):
            if isinstance(ev, dict) and ev.get('classes') is not None:
                where = f'{key}.{i}.classes' if isinstance(_plain(cfg.get(key)), list) \
                    else f'{key}.classes'
                out.append((where, tuple(ev['classes'])))
    return out


def check_num_classes(cfg) -> None:
    """Check that the model's ``num_classes``, the datasets' classes and the evaluators' classes
    agree (see the module docstring).

    Raises:
        ConfigError: two class lists differ, or a ``num_classes`` differs from the number of
            dataset classes; the message names both values and both key paths.
    """
    found = dataset_classes(cfg)
    if not found:
        return
    ref_key, ref = found[0]
    for key, names in found[1:]:
        if names != ref:
            raise ConfigError(f'{key} = {names} ({len(names)} classes) differs from {ref_key} = '
                              f'{ref} ({len(ref)} classes); every dataloader and evaluator must '
                              f'name the same classes in the same order (--data sets them all)')
    if 'model' not in cfg:
        return
    for key, n in model_num_classes(cfg['model']):
        if n != len(ref):
            raise ConfigError(f'{key} = {n}, but the dataset has {len(ref)} classes ({ref_key} = '
                              f'{ref}); set {key}={len(ref)} (e.g. with --cfg-options), or pass '
                              f'--data, which sets it from the dataset')


def _with_classes(evaluator: Any, classes: tuple) -> Any:
    evaluator = _plain(evaluator)
    if isinstance(evaluator, list):
        return [_with_classes(e, classes) for e in evaluator]
    ev = dict(evaluator)
    ev['classes'] = classes
    ev.pop('ann_file', None)  # the recipe's ground-truth file is not the new data's
    return ev


def _set_num_classes(model: Any, n: int) -> Any:
    if isinstance(model, dict):
        return {k: (v if k == 'rpn_head' else
                    n if k == 'num_classes' and isinstance(v, int) and not isinstance(v, bool)
                    else _set_num_classes(v, n)) for k, v in model.items()}
    if isinstance(model, list):
        return [_set_num_classes(v, n) for v in model]
    return model


def apply_data(cfg, path: str, classes: Optional[Sequence[str]] = None,
               val_fraction: float = 0.2, split_dir: Optional[str] = None,
               loaders: bool = True) -> DataSource:
    """Point ``cfg`` (an mmengine ``Config``, changed in place) at the dataset ``path``.

    Args:
        cfg: the run's config.
        path: the dataset folder, COCO JSON file or YOLO data.yaml (``--data``).
        classes: ``--classes``: class names to use instead of the dataset's.
        val_fraction: the share of the training images that becomes the validation split
            when the dataset has none.
        split_dir: where the derived split files go (``<work dir>/data_splits``).
        loaders: set the dataloaders too (False for ``zoo infer``, which needs only the class
            names and the model).

    Returns:
        The :class:`~zoo.data.detect.DataSource` (with its derived splits).

    Raises:
        ConfigError: see :func:`~zoo.data.detect.detect_data` and :func:`derive_val_split`.
    """
    source = detect_data(path, classes)
    names = tuple(source.classes)
    if loaders:
        if 'val' not in source.splits:
            if split_dir is None:
                raise ConfigError(f'--data {path} has no validation split, and this command has '
                                  f'no folder to write one to')
            derive_val_split(source, val_fraction, split_dir)
        for key, split in (('train_dataloader', 'train'), ('val_dataloader', 'val'),
                           ('test_dataloader', 'test' if 'test' in source.splits else 'val')):
            if key not in cfg:
                continue
            loader = dict(_plain(cfg[key]))
            old = dict(loader.get('dataset') or {})
            new = source.dataset_cfg(split)
            new.update({k: old[k] for k in KEPT_DATASET_KEYS if k in old})
            loader['dataset'] = new
            cfg[key] = loader
    for key in EVALUATORS:
        if key in cfg:
            cfg[key] = _with_classes(cfg[key], names)
    if 'model' in cfg:
        cfg['model'] = _set_num_classes(_plain(cfg['model']), len(names))
    cfg['classes'] = names
    record = dict(path=osp.abspath(path), format=source.format, classes_from=source.classes_from)
    if source.derived:
        record['derived_splits'] = dict(source.derived)
    cfg['data_source'] = record
    return source


def write_run_config(cfg, work_dir: str, argv: Optional[Sequence[str]] = None) -> str:
    """Write the merged config to ``<work_dir>/config.py`` (atomically) and return the path.

    The file holds every value (no ``_base_``), so ``zoo train <work_dir>/config.py`` repeats
    the run without ``--data``. ``work_dir`` itself is left out: a command run on this file
    writes where its own ``--work-dir`` (or the default, ``work_dirs/config``) says, so neither
    a repeated run nor ``zoo test`` (whose runner dumps its own config under the file's name)
    overwrites this run's folder.
    """
    from mmengine.config import Config
    data = _plain(cfg) if not isinstance(cfg, dict) else dict(cfg)
    data = {k: v for k, v in data.items() if k not in ('work_dir', 'launcher')}
    text = Config(data).pretty_text
    head = '# The merged config of this run, written by the zoo'
    if argv:
        head += ':\n#   ' + ' '.join(argv)
    out = osp.join(work_dir, 'config.py')
    os.makedirs(work_dir, exist_ok=True)
    tmp = out + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(head + '\n' + text)
    os.replace(tmp, out)
    return out
