"""The 4-step alternating training (``AlternatingTrainLoop``) on the tiny BCCD config, through
``zoo train`` / ``zoo test``: two iterations per step, two training images, deterministic.

One uninterrupted run (module fixture) is inspected by most tests; a hook records the weights
at the first iteration of every step and the proposals of the batches of steps 2 and 4.
"""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

import registry
from zoo.cli.main import main
from zoo.datasets import VOCDataset
from zoo.detectors.builder import build_detector
from zoo.runner.alternating_loop import STEP_NAMES, Step, parse_steps
from zoo.runner.checkpoint import load_checkpoint_file
from zoo.transforms import load_proposal_file

from conftest import ROOT, write_tiny_config

ALTERNATING = '''
train_cfg = dict(_delete_=True, type='AlternatingTrainLoop', steps=[
    dict(name='rpn', iters=2, lr=0.01), dict(name='fast_rcnn', iters=2, lr=0.01),
    dict(name='rpn_finetune', iters=2, lr=0.01),
    dict(name='fast_rcnn_finetune', iters=2, lr=0.01)])
param_scheduler = []
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(by_epoch=False, interval=3))
log_processor = dict(by_epoch=False)
'''
STEP_FILES = [f'step{i + 1}_{name}.pth' for i, name in enumerate(STEP_NAMES)]
RECORDED: dict = {}


class Interrupted(RuntimeError):
    """Raised by the test hook to stop a run as an interruption would."""


@HOOKS.register_module(force=True)
class _AltTestRecorder(Hook):
    """Records, per work dir, the weights at the first iteration of each step and the
    (metainfo, proposals) of every sample of steps 2 and 4."""

    priority = 'LOWEST'

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        loop = runner.train_loop
        step = loop.current_step
        rec = RECORDED.setdefault(runner.work_dir, dict(starts={}, samples={}))
        if runner.iter == loop.step_start(step.index):
            rec['starts'][step.index] = {k: v.detach().clone()
                                         for k, v in runner.model.state_dict().items()}
        if step.stage == 'fast_rcnn':
            rec['samples'].setdefault(step.index, []).extend(
                (dict(s.metainfo), s.proposals.bboxes.clone())
                for s in data_batch['data_samples'])


@HOOKS.register_module(force=True)
class _AltTestInterrupt(Hook):
    priority = 'LOWEST'

    def __init__(self, at_iter: int):
        self.at_iter = at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter == self.at_iter:
            raise Interrupted(f'interrupted before iteration {self.at_iter + 1}')


def alternating_config(tmp_path, extra: str = '', name: str = 'tiny_alt') -> str:
    return write_tiny_config(tmp_path, extra=ALTERNATING + extra, name=name)


def _weights(path):
    return load_checkpoint_file(str(path))['state_dict']


def _part(state, prefix):
    return {k: v for k, v in state.items() if k.startswith(prefix + '.')}


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('alternating')
    plain = alternating_config(tmp)
    recorded = alternating_config(tmp, "custom_hooks = [dict(type='_AltTestRecorder')]",
                                  name='recorded')
    work = tmp / 'full'
    assert main(['train', recorded, '--work-dir', str(work)]) == 0
    steps = [_weights(work / f) for f in STEP_FILES]
    return SimpleNamespace(tmp=tmp, cfg=plain, work=work, steps=steps,
                           initial=_weights(work / 'initial_weights.pth'),
                           rec=RECORDED[os.path.abspath(work)])


def test_each_step_leaves_a_checkpoint_and_zoo_test_scores_the_result(run, capsys):
    for name in STEP_FILES + ['initial_weights.pth', 'proposals_step1.pth',
                              'proposals_step3.pth']:
        assert (run.work / name).is_file(), name
    # last_checkpoint: step 4's file, or the CheckpointHook's copy saved after validation
    assert _same(_weights((run.work / 'last_checkpoint').read_text()), run.steps[3])
    best = [f for f in os.listdir(run.work) if f.startswith('best_coco_bbox_mAP_50')]
    assert best and _same(_weights(run.work / best[0]), run.steps[3])  # validated at the end
    logs = ''.join(p.read_text() for p in run.work.glob('*/*.log'))
    for i, name in enumerate(STEP_NAMES):
        assert f'step {i + 1}/4 ({name})' in logs
    capsys.readouterr()
    assert main(['test', run.cfg, str(run.work)]) == 0
    assert 'COCO box AP' in capsys.readouterr().out


def test_shared_convolutions_are_bitwise_frozen_in_steps_3_and_4(run):
    s2, s3, s4 = run.steps[1:]
    assert _part(s2, 'backbone') and _same(_part(s2, 'backbone'), _part(s3, 'backbone'))
    assert _same(_part(s3, 'backbone'), _part(s4, 'backbone'))
    # step 3 trains the RPN head only, step 4 the RoI head only
    assert not _same(_part(s2, 'rpn_head'), _part(s3, 'rpn_head'))
    assert _same(_part(s2, 'roi_head'), _part(s3, 'roi_head'))
    assert _same(_part(s3, 'rpn_head'), _part(s4, 'rpn_head'))
    assert not _same(_part(s3, 'roi_head'), _part(s4, 'roi_head'))
    # rpn_init='initial' (py-faster-rcnn): step 3's RPN head starts from its initial weights
    assert _same(_part(run.rec['starts'][2], 'rpn_head'), _part(run.initial, 'rpn_head'))


def test_steps_1_and_2_train_independent_backbones(run):
    init = _part(run.initial, 'backbone')
    start1, start2 = (_part(run.rec['starts'][i], 'backbone') for i in (0, 1))
    end1, end2 = (_part(run.steps[i], 'backbone') for i in (0, 1))
    assert _same(start1, init) and _same(start2, init)  # both from the initial weights
    assert not _same(end1, init) and not _same(end2, init) and not _same(end1, end2)
    # step 1 leaves the RoI head alone, step 2 the RPN head
    assert _same(_part(run.steps[0], 'roi_head'), _part(run.rec['starts'][0], 'roi_head'))
    assert _same(_part(run.steps[1], 'rpn_head'), _part(run.steps[0], 'rpn_head'))


def _model(cfg_path, state):
    registry.discover()
    model = build_detector(Config.fromfile(cfg_path).model)
    model.load_state_dict(state)
    return model.eval()


def _images():
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py'))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 120)),
                dict(type='PackDetInputs')]
    return VOCDataset(cfg.data_root, classes=cfg.classes, split='train', filter_empty_gt=True,
                      indices=2, pipeline=pipeline)


def test_the_final_network_reads_one_backbone_for_both_heads(run):
    model = _model(run.cfg, run.steps[3])
    assert sum(type(m) is type(model.backbone) for m in model.modules()) == 1
    assert _same(_part(model.state_dict(), 'backbone'), _part(run.steps[1], 'backbone'))
    seen = dict(backbone=[], rpn=[], roi=[])
    hooks = [model.backbone.register_forward_hook(lambda m, i, o: seen['backbone'].append(o)),
             model.rpn_head.register_forward_hook(lambda m, i, o: seen['rpn'].append(i[0])),
             model.roi_head.bbox_roi_extractor.register_forward_hook(
                 lambda m, i, o: seen['roi'].append(i[0]))]
    item = _images()[0]
    with torch.no_grad():
        model(**model.data_preprocessor(dict(inputs=[item['inputs']],
                                             data_samples=[item['data_samples']])),
              mode='predict')
    for h in hooks:
        h.remove()
    assert len(seen['backbone']) == 1 and len(seen['rpn']) == 1 and len(seen['roi']) == 1
    feats = seen['backbone'][0]
    assert all(a is b for a, b in zip(seen['rpn'][0], feats))
    assert all(a is b for a, b in zip(seen['roi'][0], feats))


def _reference_proposals(cls, reg, anchors, img_shape, cfg):
    """py-faster-rcnn's proposal layer for one image and one level, written with torchvision's
    box ops (independent of ``RPNHead.predict_by_feat``): object probability of the two-way
    softmax (channels [0, A) background, [A, 2A) object), deltas decoded with torchvision's
    ``BoxCoder`` (weights 1: the ZF recipe's stds 1), clipped, the ``nms_pre`` best kept, boxes
    with a side below ``min_bbox_size`` dropped, NMS, the ``max_per_img`` best.

    Args:
        cls: (1, 2A, H, W); reg: (1, 4A, H, W); anchors: (H * W * A, 4), ordered (y, x, a).

    Returns:
        boxes (K, 4) and scores (K,), best first.
    """
    from torchvision.models.detection._utils import BoxCoder
    from torchvision.ops import clip_boxes_to_image, nms, remove_small_boxes

    A, (H, W) = cls.shape[1] // 2, cls.shape[-2:]
    p_object = cls[0].view(2, A, H, W).softmax(0)[1]                      # (A, H, W)
    scores = p_object.permute(1, 2, 0).reshape(-1)                        # (y, x, a)
    deltas = reg[0].view(A, 4, H, W).permute(2, 3, 0, 1).reshape(-1, 4)
    boxes = BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(deltas, anchors)
    boxes = clip_boxes_to_image(boxes, tuple(img_shape[:2]))
    top = scores.topk(min(cfg.nms_pre, scores.numel())).indices
    boxes, scores = boxes[top], scores[top]
    big = remove_small_boxes(boxes, cfg.min_bbox_size)
    boxes, scores = boxes[big], scores[big]
    keep = nms(boxes, scores, cfg.nms.iou_threshold)[:cfg.max_per_img]
    return boxes[keep], scores[keep]


@pytest.mark.parametrize('step', [1, 3])
def test_fast_rcnn_steps_train_on_the_proposals_of_the_rpn_before_them(run, step):
    """Step 2 on the step-1 RPN's proposals, step 4 on the step-3 RPN's: recomputed here from
    the step checkpoint's RPN outputs by an independent proposal layer (torchvision's box
    ops), and mapped through each training sample's resize and flip."""
    stored = load_proposal_file(str(run.work / f'proposals_step{step}.pth'))
    model = _model(run.cfg, run.steps[step - 1])
    proposal_cfg = Config.fromfile(run.cfg).model.train_cfg.rpn_proposal
    images = _images()
    assert set(stored) == {images.prepare_results(i)['img_id'] for i in range(len(images))}
    for item in images:
        data = model.data_preprocessor(dict(inputs=[item['inputs']],
                                            data_samples=[item['data_samples']]))
        sample = data['data_samples'][0]
        with torch.no_grad():
            (cls,), (reg,) = model.rpn_head(model.extract_feat(data['inputs']))  # one level
            anchors = model.rpn_head.anchor_generator.grid_priors([tuple(cls.shape[-2:])])[0]
            boxes, scores = _reference_proposals(cls, reg, anchors,
                                                 sample.metainfo['img_shape'], proposal_cfg)
        sw, sh = sample.metainfo['scale_factor']
        expected = boxes / torch.tensor([sw, sh, sw, sh])
        got = stored[sample.metainfo['img_id']]
        assert got['bboxes'].shape == expected.shape and len(expected) > 0
        assert torch.allclose(got['bboxes'], expected, atol=1e-4)
        assert torch.allclose(got['scores'], scores, atol=1e-6)
    used = run.rec['samples'][step]
    assert len(used) == 2  # two iterations of one image
    for meta, boxes in used:
        sw, sh = meta['scale_factor']
        expected = stored[meta['img_id']]['bboxes'] * torch.tensor([sw, sh, sw, sh])
        if meta['flip']:
            w = meta['img_shape'][1]
            expected = torch.stack([w - expected[:, 2], expected[:, 1], w - expected[:, 0],
                                    expected[:, 3]], 1)
        assert torch.allclose(boxes, expected, atol=1e-4)


def test_a_flipped_training_sample_was_among_those_checked(run):
    assert any(meta['flip'] for used in run.rec['samples'].values() for meta, _ in used)


def test_proposals_differ_between_step_1_and_step_3(run):
    one = load_proposal_file(str(run.work / 'proposals_step1.pth'))
    three = load_proposal_file(str(run.work / 'proposals_step3.pth'))
    assert any(one[k]['bboxes'].shape != three[k]['bboxes'].shape
               or not torch.equal(one[k]['bboxes'], three[k]['bboxes']) for k in one)


def test_resume_at_every_step_boundary_and_mid_step_is_exact(run):
    """One run interrupted five times: after step 1, in the middle of step 2 (a checkpoint of
    the CheckpointHook), after step 2, after step 3; each time resumed with --resume. It ends
    with the weights of the uninterrupted run, bitwise."""
    work = run.tmp / 'chain'
    stops = [(2, STEP_FILES[0]), (3, 'iter_3.pth'), (4, STEP_FILES[1]), (6, STEP_FILES[2])]
    for i, (at, last) in enumerate(stops):
        cfg = alternating_config(run.tmp, f"custom_hooks = [dict(type='_AltTestInterrupt', "
                                          f"at_iter={at})]", name=f'stop{at}')
        args = ['train', cfg, '--work-dir', str(work)] + (['--resume'] if i else [])
        assert main(args) == 1
        assert (work / 'last_checkpoint').read_text() == str(work / last)
    assert main(['train', run.cfg, '--work-dir', str(work), '--resume']) == 0
    logs = ''.join(p.read_text() for p in work.glob('*/*.log'))
    assert 'step 2 (fast_rcnn) resumes at its iteration 1' in logs
    final = _weights(work / STEP_FILES[-1])
    changed = [k for k in final if not torch.equal(final[k], run.steps[3][k])]
    assert not changed, f'weights differ after resuming: {changed[:5]}'


# configuration errors ----------------------------------------------------------------------

def _steps(**change):
    steps = [dict(name=n, iters=4, lr=0.01) for n in STEP_NAMES]
    for key, value in change.items():
        i, k = key.split('__')
        steps[int(i[1:])][k] = value
    return steps


@pytest.mark.parametrize('steps, where', [
    (None, 'train_cfg.steps = None'),
    (_steps()[:3], 'expected a list of 4 dicts'),
    (_steps(s1__name='rpn'), "train_cfg.steps[1].name = 'rpn': expected 'fast_rcnn'"),
    (_steps(s1__iters=0), 'train_cfg.steps[1].iters = 0'),
    (_steps(s2__iters=2.5), 'train_cfg.steps[2].iters = 2.5'),
    (_steps(s0__lr=-1), 'train_cfg.steps[0].lr = -1'),
    (_steps(s3__lr='0.1'), "train_cfg.steps[3].lr = '0.1'"),
    (_steps(s0__milestones=[4]), 'train_cfg.steps[0].milestones = [4]'),
    (_steps(s0__milestones=[3, 2]), 'train_cfg.steps[0].milestones = [3, 2]'),
    (_steps(s1__warmup_iters=5), 'train_cfg.steps[1].warmup_iters = 5'),
    (_steps(s1__warmup_ratio=0), 'train_cfg.steps[1].warmup_ratio = 0'),
    (_steps(s2__rpn_init='step2'), "train_cfg.steps[2].rpn_init = 'step2'"),
    (_steps(s0__rpn_init='step1'), 'train_cfg.steps[0].rpn_init: only step 3'),
    (_steps(s1__max_iters=3), 'train_cfg.steps[1].max_iters: unknown key'),
])
def test_bad_steps_name_the_key(steps, where):
    with pytest.raises(registry.ConfigError) as err:
        parse_steps(steps)
    assert where in str(err.value)


def test_step_learning_rate_schedule():
    step = Step(0, 'rpn', iters=10, lr=0.1, milestones=(6, 8), gamma=0.1, warmup_iters=4,
                warmup_ratio=0.2)
    assert [round(step.lr_at(j), 6) for j in range(10)] == [
        0.02, 0.04, 0.06, 0.08, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]


@pytest.mark.parametrize('extra, message', [
    ("train_cfg['steps'][1]['iters'] = 0", 'train_cfg.steps[1].iters = 0'),
    ("param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)]",
     'param_scheduler holds ConstantLR'),
    ('train_cfg.update(max_epochs=3)', 'train_cfg.max_epochs: not a key of AlternatingTrainLoop'),
    ("train_cfg.update(proposal_cfg=dict(nms_post=100))", 'train_cfg.proposal_cfg.nms_post'),
    ('train_cfg.update(proposal_pipeline=pipeline)', 'train_cfg.proposal_pipeline: proposals'),
])
def test_bad_train_cfg_through_zoo_train_is_a_config_error(tmp_path, capsys, extra, message):
    cfg = alternating_config(tmp_path, extra)
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'w')]) == 2
    assert message in capsys.readouterr().err


def test_zoo_list_shows_the_loop(capsys):
    assert main(['list', 'loop']) == 0
    assert 'AlternatingTrainLoop' in capsys.readouterr().out
