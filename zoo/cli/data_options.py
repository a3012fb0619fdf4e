"""The ``--data``, ``--classes`` and ``--val-fraction`` options shared by ``zoo train``,
``test``, ``infer`` and ``browse``, and the preparation of a run's config from them (the
logic is in :mod:`zoo.data.config_from_data`)."""
from __future__ import annotations

import os


def add_data_options(p) -> None:
    """Add ``--data``, ``--classes`` and ``--val-fraction`` to the parser ``p``."""
    p.add_argument('--data', metavar='PATH',
                   help='train/test on this dataset instead of the config\'s: a Pascal VOC, COCO '
                        'or YOLO folder (or a COCO .json / YOLO data.yaml); sets every dataloader, '
                        'evaluator and the model\'s num_classes from it (docs/own_data.md)')
    p.add_argument('--classes', nargs='+', metavar='NAME',
                   help='with --data: the class names, in label order (VOC: default the sorted '
                        'names of the training split; COCO: a subset of the categories)')
    p.add_argument('--val-fraction', type=float, default=0.2, metavar='F',
                   help='with --data and no validation split: carve one of this share of the '
                        'training images (seed 0; the lists go to WORK_DIR/data_splits) (0.2)')


def prepare_run_config(cfg, args, out_dir: str, loaders: bool = True,
                       write_config: bool = False) -> None:
    """Apply ``--data`` (when given) to ``cfg``, check ``num_classes`` against the data, and
    with ``write_config`` write the merged config to ``out_dir/config.py``.

    Raises:
        ConfigError: see :func:`zoo.data.apply_data` and :func:`zoo.data.check_num_classes`;
            ``--classes`` or ``--val-fraction`` given without ``--data``.
    """
    from registry import ConfigError
    from zoo.data import apply_data, check_num_classes, write_run_config
    data = getattr(args, 'data', None)
    if data is None:
        if getattr(args, 'classes', None):
            raise ConfigError('--classes needs --data (a config names its classes itself)')
    else:
        source = apply_data(cfg, data, getattr(args, 'classes', None),
                            getattr(args, 'val_fraction', 0.2),
                            split_dir=os.path.join(out_dir, 'data_splits'), loaders=loaders)
        print(f'--data {data}: {source.format} dataset, {len(source.classes)} classes '
              f'{tuple(source.classes)} ({source.classes_from}); splits '
              f'{", ".join(sorted(source.splits))}')
    if loaders:
        check_num_classes(cfg)
    if write_config and data is not None:
        path = write_run_config(cfg, out_dir)
        print(f'the merged config is {path}: `zoo train {path}` repeats this run')
