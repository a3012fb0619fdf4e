"""What a recipe changed since a run was trained from it: the settings that decide what a run
learns and how it is scored, compared between the run's saved training config and the recipe
as it is now.

The model zoo names a run by its recipe (``zoo::<path>``); when the recipe's data pipeline,
schedule, optimizer or model has changed since, the row's numbers are no longer those of the
recipe, and the table says so (:func:`recipe_changes`).
"""
from __future__ import annotations

__all__ = ['recipe_changes', 'COMPARED']

#: the top-level config keys compared: what a run learns from and how it is scored
COMPARED = ('model', 'train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler',
            'val_dataloader', 'val_evaluator', 'test_dataloader', 'test_evaluator')
#: not compared: the memory layout (the same numbers up to rounding, timed as the run ran) and
#: where the data lies (another checkout's path)
_IGNORED_PATHS = ('model.channels_last',)
_IGNORED_LEAVES = ('data_root',)


def _plain(value):
    """Config values as plain dicts and lists (tuples and lists alike: a dumped config turns
    tuples into lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _differences(a, b, path: str) -> list[str]:
    if path in _IGNORED_PATHS or path.rsplit('.', 1)[-1] in _IGNORED_LEAVES:
        return []
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _differences(a.get(k), b.get(k),
                                                                         f'{path}.{k}')]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f'{path}[{i}]')]
    return [] if a == b else [path]


def recipe_changes(run_cfg, recipe_cfg) -> list[str]:
    """The settings in which ``recipe_cfg`` (the recipe now) differs from ``run_cfg`` (the
    run's training config, as saved in its work dir), beside precision.

    Args:
        run_cfg: the run's training config (mmengine ``Config`` or dict), with ``--amp`` and
            ``--cfg-options`` applied as the run had them.
        recipe_cfg: the recipe's config as it is now.

    Returns:
        The differing settings' dotted paths under :data:`COMPARED` (``'train_dataloader.
        dataset.pipeline[1].type'``), sorted; empty when the recipe still trains the run's
        model in the run's way. Precision is not a difference here: the recipe is brought to
        the run's ``amp`` first (:func:`zoo.runner.precision.apply_amp`, which also sets the
        optimizer wrapper), because the model zoo reports a change of ``amp`` on its own. Nor
        are ``model.channels_last`` and any ``data_root``.

    Raises:
        ConfigError: the run's ``amp`` is not a bool.
    """
    from mmengine.config import Config

    from zoo.runner.precision import apply_amp
    recipe = Config(_plain(recipe_cfg.to_dict() if hasattr(recipe_cfg, 'to_dict') else recipe_cfg))
    run = _plain(run_cfg.to_dict() if hasattr(run_cfg, 'to_dict') else run_cfg)
    recipe.amp = run.get('amp', False)
    apply_amp(recipe)
    recipe = _plain(recipe.to_dict())
    return sorted(d for key in COMPARED for d in _differences(run.get(key), recipe.get(key), key))
