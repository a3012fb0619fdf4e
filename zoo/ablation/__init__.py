"""Ablations: a grid of config variants trained and tested with the same schedule and seeds,
compared in one table (``zoo ablate``, ``zoo compare``; see docs/ablations.md)."""
from .results import aggregate, find_runs, read_run, write_results
from .run import emit_commands, prepare_runs, run_ablation
from .spec import AblationSpec, Variant, load_ablation
from .variant_config import config_diff, flatten, variant_config

__all__ = ['AblationSpec', 'Variant', 'aggregate', 'config_diff', 'emit_commands', 'find_runs',
           'flatten', 'load_ablation', 'prepare_runs', 'read_run', 'run_ablation',
           'variant_config', 'write_results']
