"""mmengine's ``CheckpointHook`` with the previous best checkpoint removed only after the new one
is complete.

mmengine 0.10.7 deletes ``best_<metric>_epoch_<k>.pth`` first and then writes the new best; a
crash or a SIGTERM between the two (or during the write) leaves no best checkpoint at all, or a
truncated one. Here the deletion is deferred until the new file is in place (written atomically
by :mod:`zoo.runner.atomic`), so at every moment the work dir holds a loadable best checkpoint.

The zoo's runner builder uses this hook wherever a config asks for ``CheckpointHook``; it takes
the same arguments.
"""
from __future__ import annotations

from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS


class _DeferredRemoval:
    """A file backend whose ``remove``/``rmtree`` are recorded instead of done."""

    def __init__(self, backend):
        self._backend, self.removed = backend, []

    def remove(self, path) -> None:
        self.removed.append(('remove', path))

    def rmtree(self, path) -> None:
        self.removed.append(('rmtree', path))

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """``CheckpointHook`` (same arguments) whose new best checkpoint is complete on disk before
    the previous best is removed."""

    def _save_best_checkpoint(self, runner, metrics) -> None:
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:  # if the save failed, nothing is removed: the previous best stays
            self.file_backend = backend
        # mmengine sets best_ckpt_path(_dict) only when the config asks for a best checkpoint
        current = {getattr(self, 'best_ckpt_path', None),
                   *(getattr(self, 'best_ckpt_path_dict', None) or {}).values()}
        for how, path in deferred.removed:
            if path not in current:
                getattr(backend, how)(path)
