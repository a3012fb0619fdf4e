"""The paper's 4-step alternating training of Faster R-CNN as an mmengine training loop.

Source: Ren et al., "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal
Networks", NeurIPS 2015, section 3.2 "4-Step Alternating Training"; the reference
implementation is py-faster-rcnn's ``tools/train_faster_rcnn_alt_opt.py`` with the solvers and
nets of ``models/pascal_voc/{ZF,VGG16}/faster_rcnn_alt_opt/``.

Chosen in the config by ``train_cfg = dict(type='AlternatingTrainLoop', steps=[...])``; see
:class:`AlternatingTrainLoop` for the keys and ``docs/faster_rcnn.md`` for how the steps map to
the code.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass
from numbers import Real
from typing import Any, Optional, Sequence, Union

import torch
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.runner import set_random_seed
from mmengine.runner.base_loop import BaseLoop

from registry import LOOPS, ConfigError
from zoo.transforms.load_proposals import save_proposal_file

from . import atomic
from .checkpoint import CheckpointError, load_checkpoint_file
from .proposals import generate_proposals

#: the four steps, in order (their names in ``train_cfg.steps``)
STEP_NAMES = ('rpn', 'fast_rcnn', 'rpn_finetune', 'fast_rcnn_finetune')
#: the modules each step trains; 'shared' are the convolutions the RPN and the RoI head share
#: (the backbone, and the neck if there is one)
STEP_TRAINS = {'rpn': ('shared', 'rpn_head'), 'fast_rcnn': ('shared', 'roi_head'),
               'rpn_finetune': ('rpn_head',), 'fast_rcnn_finetune': ('roi_head',)}
#: the detector's ``train_stage`` in each step (which losses ``forward(mode='loss')`` computes)
STEP_STAGE = {'rpn': 'rpn', 'fast_rcnn': 'fast_rcnn', 'rpn_finetune': 'rpn',
              'fast_rcnn_finetune': 'fast_rcnn'}
SHARED = ('backbone', 'neck')
RPN_INIT = ('initial', 'step1')
INITIAL_WEIGHTS = 'initial_weights.pth'
_STEP_KEYS = ('name', 'iters', 'lr', 'milestones', 'gamma', 'warmup_iters', 'warmup_ratio',
              'rpn_init')
_PROPOSAL_KEYS = ('nms_pre', 'max_per_img', 'nms', 'min_bbox_size')


@dataclass(frozen=True)
class Step:
    """One step of the alternating training, validated (see :func:`parse_steps`)."""

    index: int                      # 0 .. 3
    name: str                       # STEP_NAMES[index]
    iters: int
    lr: float
    milestones: tuple[int, ...] = ()
    gamma: float = 0.1
    warmup_iters: int = 0
    warmup_ratio: float = 0.001
    rpn_init: str = 'initial'       # step 3 only

    @property
    def trains(self) -> tuple[str, ...]:
        return STEP_TRAINS[self.name]

    @property
    def stage(self) -> str:
        return STEP_STAGE[self.name]

    @property
    def checkpoint_name(self) -> str:
        return f'step{self.index + 1}_{self.name}.pth'

    def lr_at(self, j: int) -> float:
        """The learning rate at iteration ``j`` (0-based) of this step: ``lr``, times ``gamma``
        for each milestone <= j, times a linear warm-up factor from ``warmup_ratio`` to 1 over
        the first ``warmup_iters`` iterations (mmengine's ``LinearLR``)."""
        factor = self.gamma ** sum(m <= j for m in self.milestones)
        if j < self.warmup_iters:
            factor *= self.warmup_ratio + (1.0 - self.warmup_ratio) * j / self.warmup_iters
        return self.lr * factor


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_steps(steps: Any) -> list[Step]:
    """Validate ``train_cfg.steps``: a list of four dicts, one per step, in the paper's order.

    Each dict: ``name`` (``'rpn'``, ``'fast_rcnn'``, ``'rpn_finetune'``,
    ``'fast_rcnn_finetune'``, in this order), ``iters`` (positive int), ``lr`` (positive
    number), and optionally ``milestones`` (increasing ints in (0, iters): the LR is multiplied
    by ``gamma`` at each; py-faster-rcnn steps at 3/4 of each stage), ``gamma`` (default 0.1),
    ``warmup_iters`` (default 0) and ``warmup_ratio`` (default 0.001), and for step 3 only
    ``rpn_init`` (``'initial'``, default, or ``'step1'``).

    Raises:
        ConfigError: naming the key (e.g. ``train_cfg.steps[1].iters``), what it holds and what
            was expected.
    """
    if not isinstance(steps, (list, tuple)) or len(steps) != 4:
        raise ConfigError(
            f'train_cfg.steps = {steps!r}: expected a list of 4 dicts, one per step of the '
            f'alternating training, named {list(STEP_NAMES)} in this order, each with iters and '
            "lr, e.g. [dict(name='rpn', iters=800, lr=0.01), ...]")
    out = []
    for i, (raw, expected) in enumerate(zip(steps, STEP_NAMES)):
        key = f'train_cfg.steps[{i}]'
        if not isinstance(raw, dict):
            raise ConfigError(f'{key} = {raw!r}: expected a dict with name, iters and lr')
        unknown = sorted(set(raw) - set(_STEP_KEYS))
        if unknown:
            raise ConfigError(f'{key}.{unknown[0]}: unknown key; a step takes '
                              f'{", ".join(_STEP_KEYS)}')
        if raw.get('name') != expected:
            raise ConfigError(f'{key}.name = {raw.get("name")!r}: expected {expected!r} (the '
                              f'steps are {list(STEP_NAMES)}, in this order)')
        for k in ('iters', 'lr'):
            if k not in raw:
                raise ConfigError(f'{key}.{k} is missing: every step needs iters (a positive '
                                  'int) and lr (a positive number)')
        iters = raw['iters']
        if not _is_int(iters) or iters < 1:
            raise ConfigError(f'{key}.iters = {iters!r}: expected a positive int (iterations)')
        lr = raw['lr']
        if not isinstance(lr, Real) or isinstance(lr, bool) or not lr > 0:
            raise ConfigError(f'{key}.lr = {lr!r}: expected a positive number (learning rate)')
        milestones = raw.get('milestones', ())
        if (not isinstance(milestones, (list, tuple))
                or not all(_is_int(m) and 0 < m < iters for m in milestones)
                or list(milestones) != sorted(set(milestones))):
            raise ConfigError(f'{key}.milestones = {milestones!r}: expected increasing ints in '
                              f'(0, {iters}) (iterations of this step where the LR drops)')
        gamma = raw.get('gamma', 0.1)
        if not isinstance(gamma, Real) or isinstance(gamma, bool) or not gamma > 0:
            raise ConfigError(f'{key}.gamma = {gamma!r}: expected a positive number')
        warmup_iters = raw.get('warmup_iters', 0)
        if not _is_int(warmup_iters) or not 0 <= warmup_iters <= iters:
            raise ConfigError(f'{key}.warmup_iters = {warmup_iters!r}: expected an int in '
                              f'[0, {iters}]')
        warmup_ratio = raw.get('warmup_ratio', 0.001)
        if not isinstance(warmup_ratio, Real) or isinstance(warmup_ratio, bool) \
                or not 0 < warmup_ratio <= 1:
            raise ConfigError(f'{key}.warmup_ratio = {warmup_ratio!r}: expected a number in '
                              '(0, 1]')
        rpn_init = raw.get('rpn_init', 'initial')
        if 'rpn_init' in raw and expected != 'rpn_finetune':
            raise ConfigError(f'{key}.rpn_init: only step 3 (rpn_finetune) takes rpn_init')
        if rpn_init not in RPN_INIT:
            raise ConfigError(f'{key}.rpn_init = {rpn_init!r}: expected one of {RPN_INIT}')
        out.append(Step(i, expected, iters, float(lr), tuple(milestones), float(gamma),
                        warmup_iters, float(warmup_ratio), rpn_init))
    return out


class _InfiniteIterator:
    """Batches of a DataLoader without end: at the end of a pass, the sampler's epoch is
    advanced (a new shuffle) and a new pass begins. (mmengine's own sleeps 2 s per pass.)"""

    def __init__(self, loader: Any):
        self.loader, self.epoch = loader, 0
        self._it = iter(loader)

    def __next__(self):
        try:
            return next(self._it)
        except StopIteration:
            self.epoch += 1
            for sampler in (getattr(self.loader, 'sampler', None),
                            getattr(getattr(self.loader, 'batch_sampler', None), 'sampler', None)):
                if hasattr(sampler, 'set_epoch'):
                    sampler.set_epoch(self.epoch)
                    break
            self._it = iter(self.loader)
            try:
                return next(self._it)
            except StopIteration:
                raise ConfigError('train_dataloader yields no batch (an empty data set, or '
                                  'drop_last with fewer images than batch_size)') from None


@LOOPS.register_module()
class AlternatingTrainLoop(BaseLoop):
    """Faster R-CNN's 4-step alternating training (Ren et al. 2015, section 3.2), one network
    whose RPN and Fast R-CNN head share the convolutions at the end.

    The steps (``train_cfg.steps[i]``; each saves ``step<i+1>_<name>.pth`` in the work dir):

    1. ``rpn``: the backbone (and neck), from the initial weights, and the RPN head trained on
       the RPN's losses alone (:meth:`TwoStageDetector.rpn_loss`). The initial weights of the
       shared convolutions and of the RPN head are first saved to ``initial_weights.pth``.
    2. ``fast_rcnn``: the step-1 RPN computes proposals for every training image, stored in
       ``proposals_step1.pth`` (:func:`zoo.runner.proposals.generate_proposals`); the shared
       convolutions are reset to the initial weights (independent of step 1's, as in
       py-faster-rcnn, where stage-1 Fast R-CNN starts from the ImageNet model again) and
       trained with the RoI head on those fixed proposals
       (:meth:`TwoStageDetector.roi_loss_on_proposals`).
    3. ``rpn_finetune``: the shared convolutions of step 2 are frozen; the RPN-only layers are
       fine-tuned. With ``rpn_init='initial'`` (default) they start from their initial weights
       (a fresh N(0, 0.01) draw), which is what py-faster-rcnn does: its stage-2 RPN starts
       from the stage-1 Fast R-CNN model, whose RPN layers are "dummy layers so that initial
       parameters are saved" (lr 0); ``rpn_init='step1'`` starts from the step-1 RPN head.
    4. ``fast_rcnn_finetune``: the shared convolutions stay frozen; the step-3 RPN computes new
       proposals (``proposals_step3.pth``) and the Fast R-CNN-only layers (the whole RoI head:
       fc6, fc7, classifier and box regressor, from step 2) are fine-tuned on them.
       (py-faster-rcnn carries only fc6/fc7 through its stage-2 RPN model, so its classifier
       and box regressor restart from random; the zoo keeps step 2's.)

    The final network (step 4's checkpoint, also validated at the end when there is a
    ``val_cfg``) holds one backbone read by both heads: the shared convolutions of step 2, the
    RPN head of step 3, the RoI head of step 4.

    Proposals: computed once per image on the unflipped image, through the config's test
    pipeline (or ``proposal_pipeline``), batch size 1, and stored in original-image pixels; in
    steps 2 and 4 the training pipeline gets ``LoadProposals`` as its first transform, so that
    ``Resize`` and every ``RandomFlip`` move the proposals exactly as they move the ground truth
    (py-faster-rcnn likewise computes proposals once and flips them for flipped images). The
    proposal settings default to the model's training-time ``train_cfg.rpn_proposal`` (those
    the RoI head sees in joint training); py-faster-rcnn's ``rpn_generate`` uses its test-time
    settings with no cap before NMS and 2000 after it, i.e. its training-time numbers without
    the 12000 pre-NMS cap: ``proposal_cfg=dict(nms_pre=100000, max_per_img=2000)``.

    Learning rate: each step starts a fresh optimizer state (momentum buffers cleared, as each
    py-faster-rcnn stage is a new solver) and runs at its own ``lr`` with optional
    ``milestones``/``gamma`` and linear warm-up, set on the optimizer's parameter groups every
    iteration (per-group multipliers of ``paramwise_cfg`` are kept); momentum, weight decay and
    gradient clipping come from ``optim_wrapper``, and ``param_scheduler`` must be empty.

    Frozen parameters: in each step the parameters outside the step's modules (and those the
    model itself freezes, e.g. VGG16's conv1-conv2) have ``requires_grad=False`` and no
    gradient, so neither the step nor weight decay nor momentum moves them (bitwise); the frozen
    shared convolutions also run in eval mode (normalisation statistics stay put).

    Resume: ``zoo train --resume`` continues at the step where the run stopped: from a step
    checkpoint (``last_checkpoint`` names the latest), the next step begins; from a mid-step
    checkpoint of the ``CheckpointHook`` (``by_epoch=False``, with the optimizer state), the
    step goes on at that iteration, skipping the batches already seen. Either way the result
    equals that of an uninterrupted run bitwise, given deterministic kernels: every step builds
    its data loader afresh (sampler seed ``seed + step index``) and starts a new optimizer
    state, and the random generators are reseeded before every iteration (``seed + iteration``),
    so flips and RoI/anchor sampling do not depend on where the run started. The hooks see each
    step as an epoch (``before_train_epoch``/``after_train_epoch``, ``max_epochs`` 4).

    Args:
        runner: the mmengine runner.
        dataloader: the ``train_dataloader`` config (a dict; the loop builds one loader per
            step, with ``LoadProposals`` in steps 2 and 4).
        steps: four dicts, see :func:`parse_steps`, e.g.
            ``[dict(name='rpn', iters=800, lr=0.01, milestones=[600]),
            dict(name='fast_rcnn', iters=400, lr=0.01), dict(name='rpn_finetune', iters=800,
            lr=0.01), dict(name='fast_rcnn_finetune', iters=400, lr=0.01)]``.
        proposal_cfg: overrides of the RPN's proposal settings for the stored proposals
            (keys ``nms_pre``, ``max_per_img``, ``nms``, ``min_bbox_size``).
        proposal_pipeline: the pipeline through which proposals are computed (default: the
            test data loader's, else the validation one's); it must not flip.
        val_at_end: run the validation loop once after step 4.

    Raises:
        ConfigError: a malformed ``steps`` (see :func:`parse_steps`), an unknown key of
            ``train_cfg`` or of ``proposal_cfg``, a non-empty ``param_scheduler``, a data
            loader given as an object or whose dataset has no ``pipeline``, a model that is not
            a two-stage detector, several processes without ``find_unused_parameters=True``.
        CheckpointError: (when run) a step resumed in its middle whose stored proposals or
            initial weights are gone from the work dir.
    """

    def __init__(self, runner, dataloader: Union[dict, Any], steps: Sequence[dict],
                 proposal_cfg: Optional[dict] = None,
                 proposal_pipeline: Optional[Sequence[dict]] = None,
                 val_at_end: bool = True, **unknown) -> None:
        if unknown:
            raise ConfigError(
                f'train_cfg.{sorted(unknown)[0]}: not a key of AlternatingTrainLoop, which takes '
                'steps, proposal_cfg, proposal_pipeline and val_at_end (overriding the train_cfg '
                'of an epoch-based recipe needs _delete_=True)')
        self.steps = parse_steps(steps)
        if proposal_cfg is not None:
            if not isinstance(proposal_cfg, dict):
                raise ConfigError(f'train_cfg.proposal_cfg = {proposal_cfg!r}: expected a dict '
                                  f'with some of {", ".join(_PROPOSAL_KEYS)}')
            unknown = sorted(set(proposal_cfg) - set(_PROPOSAL_KEYS))
            if unknown:
                raise ConfigError(f'train_cfg.proposal_cfg.{unknown[0]}: unknown key; expected '
                                  f'some of {", ".join(_PROPOSAL_KEYS)}')
        if proposal_pipeline is not None and (
                not isinstance(proposal_pipeline, (list, tuple))
                or not all(isinstance(t, dict) for t in proposal_pipeline)):
            raise ConfigError(f'train_cfg.proposal_pipeline = {proposal_pipeline!r}: expected a '
                              'list of transform configs (dicts with type)')
        if not isinstance(val_at_end, bool):
            raise ConfigError(f'train_cfg.val_at_end = {val_at_end!r}: expected True or False')
        if not isinstance(dataloader, dict):
            raise ConfigError('train_dataloader: AlternatingTrainLoop needs it as a config '
                              f'dict (it builds one loader per step), got {type(dataloader)}')
        dataset = dataloader.get('dataset')
        if not isinstance(dataset, dict) or not isinstance(dataset.get('pipeline'), (list, tuple)):
            raise ConfigError('train_dataloader.dataset: AlternatingTrainLoop needs a dataset '
                              'config with a pipeline (a list), to add LoadProposals in steps 2 '
                              'and 4; dataset wrappers are not supported')
        if any(isinstance(t, dict) and t.get('type') == 'LoadProposals'
               for t in dataset['pipeline']):
            raise ConfigError('train_dataloader.dataset.pipeline holds LoadProposals; '
                              'AlternatingTrainLoop adds it itself in steps 2 and 4')
        _check_no_schedulers(runner.param_schedulers)
        self._dataloader_cfg = copy.deepcopy(dataloader)
        self.proposal_cfg = dict(proposal_cfg or {})
        self.proposal_pipeline = _proposal_pipeline(runner.cfg, proposal_pipeline)
        self.val_at_end = val_at_end
        super().__init__(runner, dataloader)
        self._starts = [sum(s.iters for s in self.steps[:i]) for i in range(4)]
        self._max_iters = sum(s.iters for s in self.steps)
        self._max_epochs = 4  # for the hooks, each step is an epoch
        self._epoch = 0
        self._iter = 0
        self.stop_training = False  # set by EarlyStoppingHook
        self.current_step: Optional[Step] = None
        if hasattr(self.dataloader.dataset, 'metainfo'):
            self.runner.visualizer.dataset_meta = self.dataloader.dataset.metainfo

    # what mmengine's hooks read ----------------------------------------------------------------
    @property
    def max_epochs(self) -> int:
        return self._max_epochs

    @property
    def max_iters(self) -> int:
        """Iterations of the four steps together."""
        return self._max_iters

    @property
    def epoch(self) -> int:
        """Steps done (the hooks see each step as an epoch)."""
        return self._epoch

    @property
    def iter(self) -> int:
        """Iterations done, counted over all steps."""
        return self._iter

    def step_start(self, index: int) -> int:
        """The global iteration at which step ``index`` (0-based) begins."""
        return self._starts[index]

    # the loop ----------------------------------------------------------------------------------
    def run(self):
        """Run the remaining steps (all four, or from the resumed iteration on)."""
        runner = self.runner
        net = runner.model.module if is_model_wrapper(runner.model) else runner.model
        for attr in ('backbone', 'rpn_head', 'roi_head', 'set_train_stage'):
            if not hasattr(net, attr):
                raise ConfigError(f'model: AlternatingTrainLoop trains a two-stage detector '
                                  f'(backbone, rpn_head, roi_head); {type(net).__name__} has no '
                                  f'{attr}')
        if is_model_wrapper(runner.model) and \
                getattr(runner.model, 'find_unused_parameters', True) is False:
            raise ConfigError("model_wrapper_cfg: each step trains a part of the network, so "
                              "with several processes set model_wrapper_cfg = dict(type="
                              "'MMDistributedDataParallel', find_unused_parameters=True)")
        if not isinstance(runner.optim_wrapper, OptimWrapper):
            raise ConfigError('optim_wrapper: AlternatingTrainLoop needs one optimizer '
                              f'(an OptimWrapper), got {type(runner.optim_wrapper).__name__}')
        _check_no_schedulers(runner.param_schedulers)
        requires = {name: p.requires_grad for name, p in net.named_parameters()}
        runner.call_hook('before_train')
        try:
            while self._iter < self._max_iters and not self.stop_training:
                index = max(i for i in range(4) if self._starts[i] <= self._iter)
                self._run_step(self.steps[index], net, requires)
        finally:
            for name, p in net.named_parameters():
                p.requires_grad_(requires[name])
            net.set_train_stage('joint')
            self.current_step = None
        if self.val_at_end and runner.val_loop is not None:
            runner.val_loop.run()
        runner.call_hook('after_train')
        return runner.model

    def run_iter(self, data_batch: Sequence[dict]) -> None:
        """One iteration: hooks, ``model.train_step`` (loss, backward, optimizer step)."""
        self.runner.call_hook('before_train_iter', batch_idx=self._iter, data_batch=data_batch)
        outputs = self.runner.model.train_step(data_batch,
                                               optim_wrapper=self.runner.optim_wrapper)
        self.runner.call_hook('after_train_iter', batch_idx=self._iter, data_batch=data_batch,
                              outputs=outputs)
        self._iter += 1

    def _run_step(self, step: Step, net, requires: dict) -> None:
        runner = self.runner
        start = self._starts[step.index]
        done = self._iter - start
        self.current_step = step
        began = time.time()
        if done == 0:
            self._begin_step(step, net)
        proposal_file = None
        if step.stage == 'fast_rcnn':
            proposal_file = self._proposal_path(step.index)
            if not os.path.isfile(proposal_file):
                raise CheckpointError(
                    f'step {step.index + 1} ({step.name}) resumes at its iteration {done} but '
                    f'its proposals, {proposal_file}, are gone; resume from the checkpoint of '
                    f'step {step.index} ({self.steps[step.index - 1].checkpoint_name}) instead')
        trained_names = self._module_names(net, step.trains)
        trained_params = {id(p) for n in trained_names for p in getattr(net, n).parameters()}
        for name, p in net.named_parameters():
            p.requires_grad_(requires[name] and id(p) in trained_params)
            p.grad = None
        net.set_train_stage(step.stage)
        self.dataloader = self._build_loader(step, proposal_file)
        for key in [k for k in runner.message_hub.log_scalars if k.startswith('train/loss')]:
            runner.message_hub.log_scalars.pop(key)  # the previous step's losses: not this one's
        self._epoch = step.index
        runner.call_hook('before_train_epoch')  # a step is an epoch for the hooks (timers, seeds)
        set_random_seed(runner.seed + step.index, deterministic=False)
        batches = _InfiniteIterator(self.dataloader)
        optimizer = runner.optim_wrapper.optimizer
        if done == 0:
            optimizer.state.clear()  # a new solver per step, as in py-faster-rcnn
        else:
            print_log(f'step {step.index + 1} ({step.name}) resumes at its iteration {done}: '
                      f'skipping {done} batches', logger='current')
            for _ in range(done):
                next(batches)
        for group in optimizer.param_groups:
            group.setdefault('initial_lr', group['lr'])
        base_lr = optimizer.defaults['lr']
        frozen_shared = [getattr(net, n) for n in self._module_names(net, ('shared',))
                         if 'shared' not in step.trains]
        print_log(f'alternating training, step {step.index + 1}/4 ({step.name}): iterations '
                  f'{start + done + 1}-{start + step.iters} of {self._max_iters}, lr {step.lr:g}, '
                  f'trains {", ".join(trained_names)}' +
                  (f', on the proposals of {os.path.basename(proposal_file)}'
                   if proposal_file else ''), logger='current')
        while self._iter < start + step.iters and not self.stop_training:
            lr = step.lr_at(self._iter - start)
            for group in optimizer.param_groups:
                group['lr'] = lr * group['initial_lr'] / base_lr
            runner.model.train()
            for module in frozen_shared:
                module.eval()
            # seeded by the iteration: a run resumed mid-step draws the same flips and samples
            set_random_seed(runner.seed + self._iter, deterministic=False)
            self.run_iter(next(batches))
        if self._iter == start + step.iters:
            self._end_step(step, time.time() - began)
            runner.call_hook('after_train_epoch')
            self._epoch = step.index + 1

    def _begin_step(self, step: Step, net) -> None:
        """What happens to the weights before a step's first iteration (not on a mid-step
        resume): save the initial weights (step 1), compute and store proposals (steps 2, 4),
        reset the shared convolutions (step 2) or the RPN head (step 3, ``rpn_init='initial'``)
        to their initial weights."""
        work_dir = self.runner.work_dir
        init_path = os.path.join(work_dir, INITIAL_WEIGHTS)
        if step.name == 'rpn':
            keep = tuple(f'{m}.' for m in SHARED + ('rpn_head',))
            state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()
                     if k.startswith(keep)}
            if is_main_process():
                tmp = init_path + '.tmp'
                torch.save(dict(meta=dict(what='weights before step 1 of the alternating '
                                          'training: shared convolutions and RPN head'),
                                state_dict=state), tmp)
                os.replace(tmp, init_path)
            barrier()
        if step.stage == 'fast_rcnn':
            source = self.steps[step.index - 1]
            began = time.time()
            proposals = generate_proposals(self.runner.model, self._proposal_loader(),
                                           self._proposal_settings(net))
            path = self._proposal_path(step.index)
            if is_main_process():
                save_proposal_file(path, proposals, meta=dict(
                    source=f'RPN of step {source.index + 1} ({source.checkpoint_name})',
                    proposal_cfg=self._proposal_settings(net),
                    coordinates='xyxy, original-image pixels'))
            barrier()
            counts = [len(p['bboxes']) for p in proposals.values()]
            print_log(f'proposals of the step-{source.index + 1} RPN for {len(counts)} images '
                      f'({sum(counts) / max(len(counts), 1):.0f} per image) in '
                      f'{time.time() - began:.0f} s: {path}', logger='current')
        if step.name == 'fast_rcnn':
            self._load_initial(net, init_path, SHARED)
        if step.name == 'rpn_finetune' and step.rpn_init == 'initial':
            self._load_initial(net, init_path, ('rpn_head',))

    def _end_step(self, step: Step, seconds: float) -> None:
        runner = self.runner
        runner.save_checkpoint(runner.work_dir, step.checkpoint_name, save_optimizer=False,
                               save_param_scheduler=False,
                               meta=dict(epoch=step.index + 1, iter=self._iter,
                                         alternating_step=step.index + 1))
        path = os.path.join(runner.work_dir, step.checkpoint_name)
        if is_main_process():  # what `zoo train --resume` and `zoo test WORK_DIR` read
            atomic.write_text(os.path.join(runner.work_dir, 'last_checkpoint'), path)
        barrier()
        print_log(f'alternating training, step {step.index + 1}/4 ({step.name}) done in '
                  f'{seconds:.0f} s: {path}', logger='current')

    # helpers -----------------------------------------------------------------------------------
    @staticmethod
    def _module_names(net, names: Sequence[str]) -> list[str]:
        """The detector's attributes behind ``names`` ('shared' is the backbone and the neck),
        those that hold a module."""
        attrs = [a for n in names for a in (SHARED if n == 'shared' else (n,))]
        return [a for a in attrs if getattr(net, a, None) is not None]

    def _proposal_path(self, index: int) -> str:
        return os.path.join(self.runner.work_dir, f'proposals_step{index}.pth')

    def _proposal_settings(self, net) -> dict:
        """The model's ``train_cfg.rpn_proposal`` updated by ``proposal_cfg`` (plain dicts)."""
        head = net.rpn_head
        base = getattr(head, 'proposal_cfg', None) or getattr(head, 'test_cfg', None)
        if base is None and not self.proposal_cfg:
            raise ConfigError('train_cfg.proposal_cfg: the model has no proposal settings '
                              '(model.train_cfg.rpn_proposal); give them here')
        cfg = _plain(base or {})
        cfg.update(_plain(self.proposal_cfg))
        return cfg

    def _load_initial(self, net, path: str, prefixes: Sequence[str]) -> None:
        """Copy the initial weights of the modules ``prefixes`` into ``net`` (in place)."""
        if not os.path.isfile(path):
            raise CheckpointError(f'{path} is gone: the weights from before step 1, which steps '
                                  '2 and 3 start from; train again from the beginning')
        saved = load_checkpoint_file(path)['state_dict']
        keep = tuple(f'{m}.' for m in prefixes)
        own = {k: v for k, v in net.state_dict().items() if k.startswith(keep)}
        wanted = {k: v for k, v in saved.items() if k.startswith(keep)}
        if own.keys() != wanted.keys():
            missing = sorted(own.keys() - wanted.keys())
            extra = sorted(wanted.keys() - own.keys())
            raise CheckpointError(f'{path} does not fit the model: missing {missing[:3]}, '
                                  f'unexpected {extra[:3]}')
        with torch.no_grad():
            for k, v in wanted.items():
                own[k].copy_(v)

    def _build_loader(self, step: Step, proposal_file: Optional[str]):
        cfg = copy.deepcopy(self._dataloader_cfg)
        if proposal_file is not None:
            pipeline = list(cfg['dataset']['pipeline'])
            cfg['dataset']['pipeline'] = [dict(type='LoadProposals',
                                               proposal_file=proposal_file)] + pipeline
        diff_rank_seed = self.runner._randomness_cfg.get('diff_rank_seed', False)
        return self.runner.build_dataloader(cfg, seed=self.runner.seed + step.index,
                                            diff_rank_seed=diff_rank_seed)

    def _proposal_loader(self):
        """The training images, unshuffled, one per batch, through the proposal pipeline."""
        pipeline = self.proposal_pipeline
        train = self._dataloader_cfg
        dataset = copy.deepcopy(train['dataset'])
        dataset['pipeline'] = copy.deepcopy(list(pipeline))
        cfg = dict(batch_size=1, num_workers=train.get('num_workers', 0),
                   persistent_workers=False, dataset=dataset,
                   sampler=dict(type='DefaultSampler', shuffle=False),
                   collate_fn=copy.deepcopy(train.get('collate_fn', dict(type='pseudo_collate'))))
        return self.runner.build_dataloader(cfg, seed=self.runner.seed)


def _proposal_pipeline(cfg: Any, pipeline: Optional[Sequence[dict]]) -> list:
    """``pipeline``, else the test (or validation) data loader's; checked not to flip.

    Raises:
        ConfigError: no pipeline to be found, or one with a ``RandomFlip`` (proposals are
            computed on unflipped images and stored in original-image pixels).
    """
    if pipeline is None:
        for key in ('test_dataloader', 'val_dataloader'):
            loader = cfg.get(key)
            if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict) \
                    and loader['dataset'].get('pipeline') is not None:
                pipeline = loader['dataset']['pipeline']
                break
        else:
            raise ConfigError('train_cfg.proposal_pipeline: no test_dataloader or val_dataloader '
                              'pipeline to compute proposals with; give one (without flips)')
    flips = [t for t in pipeline if isinstance(t, dict) and t.get('type') == 'RandomFlip'
             and t.get('prob', 0.5) > 0]
    if flips:
        raise ConfigError(f'train_cfg.proposal_pipeline: proposals are computed on unflipped '
                          f'images and stored in original-image pixels, but the pipeline flips '
                          f'({dict(flips[0])}); give one without RandomFlip')
    return copy.deepcopy(list(pipeline))


def _plain(obj: Any) -> Any:
    """Dicts (ConfigDict included), lists and tuples as plain Python containers, so that a file
    holding them loads with ``weights_only=True``."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _check_no_schedulers(schedulers: Any) -> None:
    """``param_scheduler`` must be empty: the loop sets each step's learning rate itself."""
    if not schedulers:
        return
    items = schedulers if isinstance(schedulers, (list, tuple)) else [schedulers]
    names = [s.get('type', '?') if isinstance(s, dict) else type(s).__name__ for s in items]
    raise ConfigError(f'param_scheduler holds {", ".join(map(str, names))}, but '
                      'AlternatingTrainLoop sets the learning rate of each step itself '
                      '(train_cfg.steps[i].lr, milestones, gamma, warmup_iters): set '
                      'param_scheduler = []')
