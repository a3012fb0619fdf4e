"""The Python inference API, zoo.Detector: the same detections as `zoo test` for the same images,
whatever the input kind (path, folder, numpy RGB/BGR/grey, PIL, tensor, list), in original-image
pixels; clear errors for a missing file, a wrong array and a checkpoint of another model."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import decode_image, read_file

import registry
from registry import ConfigError
from zoo import Detections, Detector
from zoo.cli.main import main
from zoo.config import load_config
from zoo.visualization.draw import PALETTE

from conftest import write_model_files

# an untrained model scores below the recipe's 0.05: keep every detection, so that there are many
KEEP_ALL = "model['test_cfg']['rcnn'] = dict(score_thr=0.0)\n"


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """The tiny config (images resized 640x480 -> 160x120), a checkpoint, the two test images,
    and `zoo test --out`'s detections, per image path."""
    tmp = tmp_path_factory.mktemp('api')
    cfg, ckpt = write_model_files(tmp, extra=KEEP_ALL)
    out = tmp / 'results.json'
    assert main(['test', cfg, ckpt, '--out', str(out), '--work-dir', str(tmp / 'work')]) == 0
    dataset = registry.build('dataset', load_config(cfg).test_dataloader.dataset)
    paths = [dataset[i]['data_samples'].metainfo['img_path'] for i in range(len(dataset))]
    by_image = {p: [] for p in paths}
    for det in json.loads(out.read_text()):  # no ann_file: image ids 1, 2, ... in dataset order
        by_image[paths[det['image_id'] - 1]].append(det)
    return dict(cfg=cfg, ckpt=ckpt, paths=paths, tested=by_image, tmp=tmp)


@pytest.fixture(scope='module')
def detector(files):
    return Detector(files['cfg'], files['ckpt'])


def _rgb(path: str) -> np.ndarray:
    """The image as (H, W, 3) uint8 RGB, decoded as the pipeline decodes it."""
    return decode_image(read_file(path)).permute(1, 2, 0).numpy()


def _same(a: Detections, b: Detections) -> None:
    # the same up to float32 rounding: the recipe's channels-last convolutions round a batch of
    # N images slightly differently from one (about 3e-6 relative: 2e-4 px at 60 px)
    assert len(a) == len(b) > 0
    torch.testing.assert_close(a.boxes, b.boxes, rtol=0, atol=1e-3)
    torch.testing.assert_close(a.scores, b.scores, rtol=0, atol=1e-5)
    assert torch.equal(a.labels, b.labels) and a.image_shape == b.image_shape


def test_the_detections_of_zoo_test_in_original_pixels(files, detector):
    results = detector(files['paths'])
    assert isinstance(results, list) and len(results) == 2
    for path, dets in zip(files['paths'], results, strict=True):
        tested = sorted(files['tested'][path], key=lambda d: -d['score'])
        order = torch.argsort(dets.scores, descending=True, stable=True)
        assert len(dets) == len(tested) > 10
        x, y, w, h = torch.tensor([d['bbox'] for d in tested]).unbind(1)
        torch.testing.assert_close(dets.boxes[order], torch.stack([x, y, x + w, y + h], 1),
                                   rtol=0, atol=1e-3)
        torch.testing.assert_close(dets.scores[order], torch.tensor([d['score'] for d in tested]))
        assert dets.labels[order].tolist() == [d['category_id'] - 1 for d in tested]
        # original pixels: the pipeline made the image 160x120, the boxes span the 640x480 image
        assert dets.image_shape == (480, 640) and dets.image_path == path
        assert dets.boxes[:, 2].max() > 200 and dets.boxes[:, 3].max() > 150
        assert dets.boxes.min() >= 0 and dets.boxes[:, 2].max() <= 640 and dets.boxes[:, 3].max() <= 480


def test_every_input_kind_gives_the_same_detections(files, detector, tmp_path):
    path = files['paths'][0]
    reference = detector(path)
    assert isinstance(reference, Detections)
    rgb = _rgb(path)
    folder = tmp_path / 'folder'
    folder.mkdir()
    shutil.copy(path, folder / 'a.jpg')
    Image.fromarray(rgb).save(tmp_path / 'a.png')  # lossless: PIL reads the same pixels back
    with Image.open(tmp_path / 'a.png') as pil:
        kinds = {'path': path, 'folder': str(folder), 'pathlib': folder / 'a.jpg', 'numpy RGB': rgb,
                 'PIL': pil.copy(), 'tensor uint8': torch.from_numpy(rgb).permute(2, 0, 1),
                 'tensor float': torch.from_numpy(rgb).permute(2, 0, 1) / 255.0}
    # one list, one batch (images of one size pad alike: the same detections as batch 1)
    results = Detector(files['cfg'], files['ckpt'], batch_size=len(kinds))(list(kinds.values()))
    assert len(results) == len(kinds)
    for kind, dets in zip(kinds, results, strict=True):
        _same(dets, reference)
        expected = {'path': path, 'folder': str(folder / 'a.jpg'), 'pathlib': str(folder / 'a.jpg')}
        assert dets.image_path == expected.get(kind), kind
    assert isinstance(detector(str(folder)), list)  # a folder is several images, even of one
    grey = np.ascontiguousarray(rgb[:, :, 1])  # (H, W): the same grey value in all three channels
    _same(detector(grey), detector(np.repeat(grey[:, :, None], 3, axis=2)))
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    _same(Detector(files['cfg'], files['ckpt'], channel_order='bgr')(bgr), reference)
    swapped = detector(bgr)  # the channel order matters: BGR read as RGB detects otherwise
    assert len(swapped) != len(reference) or not torch.allclose(swapped.scores, reference.scores)


def test_batches_and_score_threshold_and_no_global_state(files, detector):
    before = (True, torch.get_num_threads(), torch.float32, False,
              torch.are_deterministic_algorithms_enabled())  # grad mode on, as in any test
    one_by_one = detector(files['paths'])
    batched = Detector(files['cfg'], files['ckpt'], batch_size=2, amp=False)(files['paths'])
    assert (torch.is_grad_enabled(), torch.get_num_threads(), torch.get_default_dtype(),
            torch.is_autocast_enabled('cpu'), torch.are_deterministic_algorithms_enabled()) == before
    for a, b in zip(one_by_one, batched, strict=True):
        _same(a, b)
    thr = float(one_by_one[0].scores.median())
    high = Detector(files['cfg'], files['ckpt'], score_thr=thr)(files['paths'][0])
    assert len(high) == int((one_by_one[0].scores >= thr).sum()) < len(one_by_one[0])
    _same(high, one_by_one[0].filter(thr))


def test_from_work_dir_to_json_and_draw(files, detector, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    shutil.copy(files['cfg'], work / 'config.py')
    shutil.copy(files['ckpt'], work / 'best_coco_bbox_mAP_epoch_1.pth')
    path = files['paths'][0]
    dets = Detector.from_work_dir(str(work))(path)
    _same(dets, detector(path))
    _same(Detector(str(work))(path), dets)  # a work dir alone, as config
    record = json.loads(dets.to_json())
    assert record['image_path'] == path and record['image_shape'] == [480, 640]
    assert len(record['boxes']) == len(dets) and record['boxes'][0] == dets.boxes[0].tolist()
    assert record['label_names'] == [('RBC', 'WBC', 'Platelets')[i] for i in record['labels']]
    top = int(dets.scores.argmax())
    picture = dets.draw(score_thr=float(dets.scores[top]))  # only the best box
    assert picture.size == (640, 480)
    x1, y1, x2, y2 = dets.boxes[top].round().int().tolist()
    colour = PALETTE[int(dets.labels[top]) % len(PALETTE)]
    edge = np.asarray(picture)[max(y1, (y1 + y2) // 2) - 1:(y1 + y2) // 2 + 2, max(x1 - 1, 0):x1 + 2]
    assert (edge.reshape(-1, 3) == colour).all(1).any()  # the left edge, half-way down


def test_errors_name_what_is_wrong(files, detector, tmp_path):
    missing = str(tmp_path / 'nope.jpg')
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        detector([files['paths'][0], missing])  # checked before any inference
    with pytest.raises(ValueError, match=r'\(H, W, 3\).*shape \(4, 5, 4\)'):
        detector(np.zeros((4, 5, 4), np.uint8))
    with pytest.raises(ValueError, match=r'\(3, H, W\).*shape \(8, 8, 3\)'):
        detector(torch.zeros(8, 8, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        detector(torch.full((3, 8, 8), 255.0))
    with pytest.raises(TypeError, match='cannot detect in a dict'):
        detector({'img': 1})
    with pytest.raises(ValueError, match='needs a checkpoint'):
        Detector(files['cfg'])
    with pytest.raises(ConfigError, match='does not exist'):
        Detector(files['cfg'], str(tmp_path / 'none.pth'))
    other = tmp_path / 'other'
    other.mkdir()
    other_cfg = write_model_files(other, extra="model['roi_head']['bbox_head']['fc_out_channels'] = 32\n")[0]
    with pytest.raises(ConfigError, match=r"checkpoint '.*model.pth' does not match"):
        Detector(other_cfg, files['ckpt'])  # a checkpoint of another model


class _Seen(Exception):
    """Stops the forward once the backbone has been reached."""


def test_amp_runs_the_model_under_bfloat16_autocast_on_the_cpu(files):
    seen = []

    def look(module, args):
        seen.append((torch.is_autocast_enabled('cpu'), torch.get_autocast_dtype('cpu'),
                     torch.is_autocast_cache_enabled()))
        raise _Seen

    for amp, expected in ((True, (True, torch.bfloat16)), (False, (False, None))):
        detector = Detector(files['cfg'], files['ckpt'], amp=amp)
        detector.model.backbone.register_forward_pre_hook(look)
        with pytest.raises(_Seen):
            detector(files['paths'][0])
        assert seen[-1][0] == expected[0] and (not amp or seen[-1][1] == expected[1])
        if amp:  # no bfloat16 copy of every weight kept to the end of the forward pass
            assert seen[-1][2] is False
    assert not torch.is_autocast_enabled('cpu') and torch.is_autocast_cache_enabled()


def test_amp_none_follows_the_configs_amp(files):
    """amp=None (the default, and zoo infer without --amp) takes the config's `amp`, as zoo
    test does: a recipe with amp=True infers under autocast; a non-bool amp is a config error."""
    from mmengine.config import Config

    from registry import ConfigError
    seen = []

    def look(module, args):
        seen.append(torch.is_autocast_enabled('cpu'))
        raise _Seen

    for cfg_amp in (True, False):
        cfg = Config.fromfile(files['cfg'])
        cfg.amp = cfg_amp
        detector = Detector(cfg, files['ckpt'])
        assert detector.amp is cfg_amp
        detector.model.backbone.register_forward_pre_hook(look)
        with pytest.raises(_Seen):
            detector(files['paths'][0])
        assert seen[-1] is cfg_amp
    assert Detector(cfg, files['ckpt'], amp=True).amp is True  # an explicit value wins
    cfg.amp = 'yes'
    with pytest.raises(ConfigError, match="amp = 'yes' in the config"):
        Detector(cfg, files['ckpt'])


def test_detector_with_amp_keeps_the_weights_in_bfloat16_after_its_first_call(files):
    """The first call casts; the second gives the first's detections bit for bit."""
    cfg, ckpt, image = files['cfg'], files['ckpt'], files['paths'][0]
    detector = Detector(cfg, ckpt, amp=True)
    fc = [m for m in detector.model.modules() if type(m) is torch.nn.Linear]
    assert fc and all(m.weight.dtype == torch.float32 for m in fc)
    first = detector(image)
    assert all(m.weight.dtype == torch.bfloat16 for m in fc)
    second = detector(image)
    assert len(first) > 0 and torch.equal(first.boxes, second.boxes)
    assert torch.equal(first.scores, second.scores) and torch.equal(first.labels, second.labels)
    plain = Detector(cfg, ckpt, amp=False)
    plain(image)
    assert all(m.weight.dtype == torch.float32 for m in plain.model.modules() if type(m) is torch.nn.Linear)
