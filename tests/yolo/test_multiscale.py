"""Multi-scale training (YOLOv2, section 2): BatchSyncRandomResize in the data preprocessor.

Sizes are multiples of the stride inside the range (all of YOLOv2's {320, ..., 608} drawn), one
size for the whole batch, a new one every ``interval`` batches only; boxes, shapes and scale
factors scale exactly (hand-computed); testing is left alone; a non-zero rank takes rank 0's size
from the broadcast (and, with ``-m slow``, two real gloo processes seeded differently resize to
the same sizes).
"""
import os

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

import registry
from registry import ConfigError
from zoo.structures import DetDataSample
from zoo.transforms import BatchSyncRandomResize, DetDataPreprocessor
from zoo.transforms import batch_resize

YOLOV2_SIZES = set(range(320, 609, 32))


def samples(n, img_shape=(312, 416), boxes=((10., 20., 110., 220.),)):
    out = []
    for _ in range(n):
        s = DetDataSample(metainfo=dict(img_shape=img_shape, ori_shape=(480, 640),
                                        scale_factor=(0.65, 0.65), pad_shape=(320, 416),
                                        batch_input_shape=(320, 416)))
        s.gt_instances = InstanceData(bboxes=torch.tensor(boxes),
                                      labels=torch.zeros(len(boxes), dtype=torch.int64))
        out.append(s)
    return out


def test_every_size_of_yolov2_is_drawn_and_only_those():
    torch.manual_seed(0)
    aug = BatchSyncRandomResize(random_size_range=(320, 608), interval=1, size_divisor=32)
    seen = set()
    for _ in range(200):
        seen.add(aug.draw_size(64, 64))
    assert seen == {(s, s) for s in YOLOV2_SIZES}


def test_a_new_size_every_interval_batches_the_same_for_the_whole_batch():
    torch.manual_seed(1)
    aug = BatchSyncRandomResize(random_size_range=(320, 608), interval=10, size_divisor=32)
    shapes = []
    for _ in range(60):
        inputs, out = aug(torch.zeros(2, 3, 32, 32), samples(2, (32, 32)))
        h, w = inputs.shape[-2:]
        assert h == w and h in YOLOV2_SIZES
        assert [s.batch_input_shape for s in out] == [(h, w)] * 2
        assert [s.img_shape for s in out] == [(h, w)] * 2
        shapes.append(h)
    groups = [shapes[i:i + 10] for i in range(0, 60, 10)]
    assert all(len(set(g)) == 1 for g in groups)        # constant inside every 10 batches
    assert len({g[0] for g in groups}) > 1               # and redrawn between them


def test_boxes_and_metadata_scale_exactly():
    # one size possible: the long side 640; the short side keeps the ratio: round(20 * 320 / 416)
    # = 15 strides = 480. So sy = 480 / 320 = 1.5 and sx = 640 / 416.
    aug = BatchSyncRandomResize(random_size_range=(640, 640), interval=10, size_divisor=32)
    inputs = torch.full((2, 3, 320, 416), 0.25)
    out_inputs, out = aug(inputs, samples(2))
    assert out_inputs.shape == (2, 3, 480, 640)
    torch.testing.assert_close(out_inputs, torch.full((2, 3, 480, 640), 0.25))
    sx = 640 / 416
    expected = torch.tensor([[10 * sx, 30.0, 110 * sx, 330.0]])
    for s in out:
        torch.testing.assert_close(s.gt_instances.bboxes, expected)
        assert s.img_shape == (468, 640)            # (int(312 * 1.5 + .5), int(416 * sx + .5))
        assert s.pad_shape == (480, 640) and s.batch_input_shape == (480, 640)
        fw, fh = s.scale_factor
        assert fw == pytest.approx(1.0) and fh == pytest.approx(0.975)  # 0.65 * sx, 0.65 * 1.5
        assert s.ori_shape == (480, 640)
        # boxes / scale_factor: original pixels again (the predict contract)
        torch.testing.assert_close(s.gt_instances.bboxes / torch.tensor([fw, fh, fw, fh]),
                                   torch.tensor([[10 / 0.65, 20 / 0.65, 110 / 0.65, 220 / 0.65]]))


def test_a_portrait_batch_keeps_its_long_side_in_range():
    aug = BatchSyncRandomResize(random_size_range=(640, 640), interval=10, size_divisor=32)
    inputs, _ = aug(torch.zeros(1, 3, 416, 320), samples(1, (416, 312)))
    assert inputs.shape[-2:] == (640, 480)


def test_a_non_zero_rank_takes_the_size_rank_0_broadcasts(monkeypatch):
    calls = []

    def fake_broadcast(tensor, src=0):
        calls.append(src)
        tensor.copy_(torch.tensor([352, 352]))   # what rank 0 sent

    monkeypatch.setattr(batch_resize, 'get_rank', lambda: 1)
    monkeypatch.setattr(batch_resize, 'broadcast', fake_broadcast)
    aug = BatchSyncRandomResize(random_size_range=(320, 608), interval=10, size_divisor=32)
    inputs, _ = aug(torch.zeros(1, 3, 64, 64), samples(1, (64, 64)))
    assert calls == [0] and inputs.shape[-2:] == (352, 352)


def test_the_preprocessor_resizes_in_training_only():
    torch.manual_seed(0)
    pre = DetDataPreprocessor(mean=None, std=None, pad_size_divisor=32, batch_augments=[
        dict(type='BatchSyncRandomResize', random_size_range=(96, 96), interval=10)])
    data = dict(inputs=[torch.zeros(3, 60, 64, dtype=torch.uint8)], data_samples=samples(1, (60, 64)))
    assert pre(data, False)['inputs'].shape == (1, 3, 64, 64)
    data = dict(inputs=[torch.zeros(3, 60, 64, dtype=torch.uint8)], data_samples=samples(1, (60, 64)))
    out = pre(data, True)
    assert out['inputs'].shape == (1, 3, 96, 96)
    assert out['data_samples'][0].img_shape == (90, 96)
    torch.testing.assert_close(out['data_samples'][0].gt_instances.bboxes,
                               torch.tensor([[15.0, 30.0, 165.0, 330.0]]))


@pytest.mark.parametrize('args, word', [
    (dict(random_size_range=(600, 320)), 'random_size_range'),
    (dict(random_size_range=(330, 350)), 'no multiple'),
    (dict(interval=0), 'interval'), (dict(size_divisor=0), 'size_divisor')])
def test_bad_arguments_are_value_errors(args, word):
    with pytest.raises(ValueError, match=word):
        BatchSyncRandomResize(**args)


def test_a_bad_batch_augment_names_its_key_path():
    registry.discover()
    cfg = Config(dict(model=dict(type='YOLOV3', data_preprocessor=dict(
        type='DetDataPreprocessor',
        batch_augments=[dict(type='BatchSyncRandomResize', interval=0)]))))
    with pytest.raises(ConfigError, match=r'data_preprocessor\.batch_augments\.0'):
        registry.build('transform', cfg.model.data_preprocessor, key='data_preprocessor')


def _rank_sizes(rank, port, out_dir):
    """One of two gloo processes: its own seed, 30 batches, the sizes it resized to."""
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    try:
        torch.manual_seed(100 + rank)   # the processes would draw different sizes on their own
        aug = BatchSyncRandomResize(random_size_range=(320, 608), interval=3, size_divisor=32)
        sizes = [tuple(aug(torch.zeros(1, 3, 32, 32), None)[0].shape[-2:]) for _ in range(30)]
        torch.save(sizes, os.path.join(out_dir, f'{rank}.pt'))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes each import the zoo: over a minute on a loaded 2-core CPU
def test_two_processes_resize_to_the_same_sizes(tmp_path):
    """Real data-parallel processes (gloo on the CPU): rank 1 gets rank 0's
    sizes, although each process seeds its generator differently."""
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_rank_sizes, args=(port, str(tmp_path)), nprocs=2, join=True)
    sizes = [torch.load(tmp_path / f'{r}.pt') for r in range(2)]
    assert sizes[0] == sizes[1]
    assert len(set(sizes[0])) > 1 and all(h == w and h in YOLOV2_SIZES for h, w in sizes[0])


def test_a_two_stage_detector_trains_on_resized_batches_too():
    """Every detector: the ZF Faster R-CNN recipe with the batch augmentation computes finite
    RPN and RoI losses on a batch resized from 128 x 160 to 192 x 224 (the long side 224; the
    short round(7 * 128 / 160) = 6 strides of 32)."""
    registry.discover()
    cfg = Config.fromfile(os.path.join(os.path.dirname(__file__), '../../configs/faster_rcnn/'
                                       'faster_rcnn_zf_bccd.py'))
    cfg.model.data_preprocessor.batch_augments = [
        dict(type='BatchSyncRandomResize', random_size_range=(224, 224), interval=10)]
    from zoo.detectors.builder import build_detector
    torch.manual_seed(0)
    model = build_detector(cfg.model)
    model.train()
    data = dict(inputs=[torch.randint(0, 256, (3, 120, 160), dtype=torch.uint8)],
                data_samples=samples(1, (120, 160), ((10., 20., 60., 90.),)))
    batch = model.data_preprocessor(data, True)
    assert batch['inputs'].shape == (1, 3, 192, 224)
    torch.testing.assert_close(batch['data_samples'][0].gt_instances.bboxes,
                               torch.tensor([[14.0, 30.0, 84.0, 135.0]]))
    losses = model(**batch, mode='loss')
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
