"""``zoo export``: the recipes export to ONNX, and onnxruntime finds the PyTorch model's
detections on BCCD images of two sizes; a model that cannot be exported, or whose export
disagrees, fails with exit status 1 and leaves no file."""
from __future__ import annotations

import glob
import os

import pytest
import torch

pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

import registry  # noqa: E402
from zoo.cli.main import main  # noqa: E402
from zoo.config import load_config  # noqa: E402
from zoo.detectors.builder import build_detector  # noqa: E402
from zoo.export import (Match, check_images, image_pipeline, match_detections,  # noqa: E402
                        run_onnx, run_pytorch)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = sorted(glob.glob(os.path.join(ROOT, 'data', 'BCCD', 'JPEGImages', '*.jpg')))[0]
ZF = os.path.join(ROOT, 'configs', 'faster_rcnn', 'faster_rcnn_zf_bccd.py')
YOLO = os.path.join(ROOT, 'configs', 'yolo', 'yolov3_bccd.py')
R50 = os.path.join(ROOT, 'configs', 'faster_rcnn', 'faster_rcnn_r50_fpn_bccd.py')


def _random_checkpoint(config: str, path) -> tuple:
    """A randomly initialised model of ``config`` saved as a checkpoint; (cfg, model).

    The YOLOv3 model starts with prediction weights N(0, 0.01) and objectness and class biases
    at low probabilities: its scores are about 1e-4, all alike, nothing above the score
    threshold. Its convolutions get He's initialisation instead, and the
    prediction biases 0, so that there are detections of spread scores to compare."""
    registry.discover()
    cfg = load_config(config)
    torch.manual_seed(0)
    model = build_detector(cfg.model).eval()
    head = getattr(model, 'bbox_head', None)
    if head is not None and hasattr(head, 'convs_pred'):
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):  # He et al. 2015: the signal keeps its scale
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity='leaky_relu')
        with torch.no_grad():
            for conv in head.convs_pred:
                conv.bias.zero_()
    torch.save({'state_dict': model.state_dict()}, path)
    return cfg, model


def _small(config: str, tmp_path, scale=(224, 168)) -> str:
    """The recipe with a smaller test scale (a fast test; the network is the recipe's)."""
    path = tmp_path / f'small_{os.path.basename(config)}'
    path.write_text(f"""_base_ = [{config!r}]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale={scale!r}, keep_ratio=True),
                 dict(type='PackDetInputs')]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
""")
    return str(path)


#: the largest difference of a box coordinate (pixels of the original image) between
#: onnxruntime and PyTorch that the tests accept, besides the check's IoU >= 0.99
MAX_BOX_DIFF = 0.05


def _export_and_compare(config: str, tmp_path, capsys, replace: bool = False):
    """Export ``config`` with random weights through ``zoo export`` and compare the written
    file's detections with PyTorch's on a BCCD image at two sizes; with ``replace``, an
    existing file at ``--out`` is replaced (``--force``). Returns the merged Match."""
    ckpt, out = tmp_path / 'model.pth', tmp_path / 'model.onnx'
    cfg, model = _random_checkpoint(config, ckpt)
    if replace:
        out.write_bytes(b'the previous export')
    status = main(['export', config, str(ckpt), '--format', 'onnx', '--out', str(out),
                   '--check-images', IMAGE] + (['--force'] if replace else []))
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert 'checked with onnxruntime' in captured.out
    assert [p for p in os.listdir(tmp_path) if p.endswith('.tmp')] == []
    # the file alone: its input takes any height and width, and on two sizes it finds what
    # PyTorch (the test pipeline, model.predict) finds
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    (inp,) = session.get_inputs()
    assert inp.type == 'tensor(uint8)' and inp.shape[2] == 3
    assert isinstance(inp.shape[0], str) and isinstance(inp.shape[1], str)
    assert [o.name for o in session.get_outputs()] == ['boxes', 'scores', 'labels']
    pipeline = image_pipeline(cfg)
    images = check_images([IMAGE])
    assert len({tuple(img.shape) for _, img in images}) == 2
    total = Match()
    for name, image in images:
        ref = run_pytorch(model, pipeline, image)
        got = run_onnx(session, image)
        assert got['boxes'].shape[1:] == (4,) and got['labels'].dtype.kind == 'i'
        result = match_detections(ref, got, score_thr=0.05, min_iou=0.99, score_atol=1e-3,
                                  max_per_img=100)
        assert result.ok, (name, result.problems[:5])
        total.merge(result, name)
        # boxes in original pixels: inside the image
        h, w = image.shape[-2:]
        assert (got['boxes'][:, [0, 2]] <= w + 1e-3).all() and (got['boxes'][:, [1, 3]] <= h + 1e-3).all()
    assert total.checked >= 20  # real detections were compared, not an empty list
    assert total.max_box_diff <= MAX_BOX_DIFF, total.max_box_diff
    return total


def test_zf_faster_rcnn_exports_and_agrees(tmp_path, capsys):
    _export_and_compare(_small(ZF, tmp_path), tmp_path, capsys, replace=True)


def test_yolov3_exports_and_agrees(tmp_path, capsys):
    _export_and_compare(_small(YOLO, tmp_path, (192, 192)), tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize('config', [ZF, YOLO, R50], ids=['zf', 'yolov3', 'r50_fpn'])
def test_recipe_exports_and_agrees_at_its_scale(config, tmp_path, capsys):
    _export_and_compare(config, tmp_path, capsys)


class _TruncNeck(torch.nn.Module):
    """A test-only neck calling ``torch.trunc``, which has no ONNX conversion in the
    TorchScript exporter; registered as the neck ``_TestExportTruncNeck`` by :func:`trunc_neck`.
    It keeps the backbone's channels and strides (the detector's assembly check)."""

    def __init__(self, in_channels=(1,), in_strides=(1,)):
        super().__init__()
        self.out_channels = tuple(int(c) for c in in_channels)
        self.strides = tuple(int(s) for s in in_strides)

    def forward(self, feats):
        return tuple(torch.trunc(f) for f in feats)


@pytest.fixture
def trunc_neck():
    registry.NECKS.register_module(name='_TestExportTruncNeck', module=_TruncNeck)
    yield '_TestExportTruncNeck'
    registry.NECKS._module_dict.pop('_TestExportTruncNeck', None)


@pytest.fixture(scope='module')
def small_zf(tmp_path_factory):
    """(config, checkpoint) of the small ZF recipe, made once for the failure tests."""
    folder = tmp_path_factory.mktemp('zf')
    config = _small(ZF, folder)
    _random_checkpoint(config, folder / 'model.pth')
    return config, folder / 'model.pth'


def _leftovers(folder) -> list:
    """What an export left in ``folder``: no temporary file may stay behind."""
    return sorted(p for p in os.listdir(folder) if p != 'model.pth' and not p.startswith('small_')
                  and not p.endswith('_trunc.py'))


def test_unsupported_op_fails_naming_it_and_writes_nothing(small_zf, trunc_neck, tmp_path, capsys):
    """A plugin part (a neck registered here) whose operator the exporter refuses: exit 1,
    the operator named, no file and no temporary file left."""
    (config, ckpt), out = small_zf, tmp_path / 'model.onnx'
    with_neck = tmp_path / 'small_zf_trunc.py'
    with_neck.write_text(f"_base_ = [{config!r}]\nmodel = dict(neck=dict(type={trunc_neck!r}))\n")
    # the neck has no weights: the ZF checkpoint fits the model with the neck
    status = main(['export', str(with_neck), str(ckpt), '--out', str(out),
                   '--check-images', IMAGE])
    err = capsys.readouterr().err
    assert status == 1, err
    assert 'the operator aten::trunc has no ONNX conversion' in err
    assert _leftovers(tmp_path) == []


def test_unsupported_op_error_chains_the_exporters():
    from zoo.export import ExportError, export_onnx

    with pytest.raises(ExportError) as info:
        export_onnx(_TruncNeck(), torch.rand(4, 5, 3))
    assert info.value.op == 'aten::trunc'
    assert info.value.__cause__ is not None and 'trunc' in str(info.value.__cause__)


def test_disagreeing_export_fails_and_writes_nothing(small_zf, tmp_path, capsys, monkeypatch):
    """An export whose graph differs from the model (its normalization left out) is refused;
    with --force an existing file stays as it was, and no temporary file stays behind."""
    from zoo.export.preprocess import GraphPreprocess

    (config, ckpt), out = small_zf, tmp_path / 'model.onnx'
    out.write_bytes(b'the previous export')
    init = GraphPreprocess.__init__

    def without_normalization(self, resize, mean, std, *args, **kwargs):
        init(self, resize, None, None, *args, **kwargs)

    monkeypatch.setattr(GraphPreprocess, '__init__', without_normalization)
    status = main(['export', config, str(ckpt), '--out', str(out), '--check-images', IMAGE,
                   '--force'])
    err = capsys.readouterr().err
    assert status == 1
    assert 'disagrees with PyTorch' in err and 'nothing written' in err
    assert _leftovers(tmp_path) == ['model.onnx']
    assert out.read_bytes() == b'the previous export'


def test_existing_file_is_refused_without_force(small_zf, tmp_path, capsys):
    config, ckpt = small_zf
    out = tmp_path / 'model.onnx'
    out.write_bytes(b'the previous export')
    status = main(['export', config, str(ckpt), '--out', str(out), '--check-images', IMAGE])
    err = capsys.readouterr().err
    assert status == 2
    assert f'--out {out}: the file exists; give --force' in err
    assert out.read_bytes() == b'the previous export'
    assert _leftovers(tmp_path) == ['model.onnx']


def test_missing_check_image_is_reported(small_zf, tmp_path, capsys):
    config, ckpt = small_zf
    status = main(['export', config, str(ckpt), '--out', str(tmp_path / 'm.onnx'),
                   '--check-images', str(tmp_path / 'nope.jpg')])
    assert status == 1
    assert 'nope.jpg' in capsys.readouterr().err
    assert _leftovers(tmp_path) == []
