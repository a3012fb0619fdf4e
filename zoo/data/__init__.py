"""Data tooling: what a dataset folder holds (:mod:`.detect`), a run's config from it
(:mod:`.config_from_data`), ``zoo data inspect`` (:mod:`.inspect`) and ``zoo data convert``
(:mod:`.convert`)."""
from .config_from_data import apply_data, check_num_classes, derive_val_split, write_run_config
from .detect import DataSource, detect_data, detect_format

__all__ = ['DataSource', 'apply_data', 'check_num_classes', 'derive_val_split', 'detect_data',
           'detect_format', 'write_run_config']
