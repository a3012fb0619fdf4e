"""Hooks the zoo adds to mmengine's runner."""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import set_random_seed


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seed torch, numpy and random at the start of every training epoch with ``seed + epoch``.

    mmengine re-seeds once when a run resumes, so the random stream of a resumed run (random
    flips, RoI sampling) would differ from that of an uninterrupted one. Seeding every epoch
    from the epoch number makes a run interrupted after epoch k and resumed end with the same
    weights as the uninterrupted run (given deterministic kernels and ``num_workers=0`` or
    per-epoch worker seeding).
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed: int = 0):
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        seed = runner.seed if runner.seed is not None else self.seed
        set_random_seed(seed + runner.epoch, deterministic=False)
