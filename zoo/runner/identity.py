"""The runner's side of checkpoint identity (:mod:`zoo.identity`): a hook that records the
model's identity in every checkpoint saved and checks it in every checkpoint loaded."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from zoo.identity import check_checkpoint, model_identity

__all__ = ['CheckpointIdentityHook', 'check_checkpoint', 'model_identity']


@HOOKS.register_module()
class CheckpointIdentityHook(Hook):
    """Record the model's identity in every checkpoint saved, check it in every checkpoint
    loaded by the runner (``load_from``, ``--resume``, ``zoo test``).

    Raises:
        ConfigError: from :func:`check_checkpoint`, before any weight is loaded.
    """

    priority = 'VERY_HIGH'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        classes = None
        dataset = getattr(getattr(runner, '_train_dataloader', None), 'dataset', None)  # if built
        if dataset is not None and hasattr(dataset, 'metainfo'):
            classes = dataset.metainfo.get('classes')
        checkpoint.setdefault('meta', {})['zoo_model'] = model_identity(runner.cfg, classes)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from zoo.checkpoint import last_loaded
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        partial = bool(runner.cfg.get('load_partial', False))
        resume = bool(getattr(runner, '_resume', False))
        state = check_checkpoint(checkpoint, runner.cfg, model, last_loaded() or 'the checkpoint',
                                 partial=partial, resume=resume)
        if 'state_dict' in checkpoint:
            checkpoint['state_dict'] = state
        else:  # a bare state dict: mmengine loads the dict itself
            for key in [k for k in checkpoint if k not in state]:
                del checkpoint[key]
