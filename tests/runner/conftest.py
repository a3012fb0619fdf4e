"""A tiny BCCD recipe for end-to-end runs: the ZF recipe at 1/4 scale with a small head, on a
few images, so that a training run through the command line takes seconds."""
import os
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZF_BCCD = os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py')


def write_tiny_config(tmp_path, extra: str = '', train_images: int = 2, val_images: int = 2,
                      epochs: int = 1, name: str = 'tiny_zf_bccd') -> str:
    """Write a config inheriting the ZF BCCD recipe, shrunk, plus ``extra`` lines; return its
    path (``tmp_path/<name>.py``)."""
    path = tmp_path / f'{name}.py'
    path.write_text(textwrap.dedent(f'''
        _base_ = [{ZF_BCCD!r}]
        model = dict(roi_head=dict(bbox_head=dict(fc_out_channels=64)),
                     train_cfg=dict(rpn_proposal=dict(nms_pre=500, max_per_img=100),
                                    rcnn=dict(sampler=dict(num=32))),
                     test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=50)))
        pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 120)),
                    dict(type='RandomFlip', prob=0.5), dict(type='PackDetInputs')]
        test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 120)),
                         dict(type='PackDetInputs')]
        train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False,
                                dataset=dict(indices={train_images}, pipeline=pipeline))
        val_dataloader = dict(num_workers=0, persistent_workers=False,
                              dataset=dict(indices={val_images}, pipeline=test_pipeline))
        test_dataloader = val_dataloader
        train_cfg = dict(max_epochs={epochs}, val_interval={epochs})
        param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)]
        default_hooks = dict(logger=dict(interval=1))
        randomness = dict(seed=0, deterministic=True)
        amp = False  # float32, exact: the recipe's bfloat16 is tested with --amp / amp=True
    ''') + textwrap.dedent(extra))
    return str(path)


@pytest.fixture
def tiny_config(tmp_path):
    return lambda **kw: write_tiny_config(tmp_path, **kw)



def write_model_files(tmp_path, extra: str = '') -> tuple[str, str]:
    """The tiny config (plus ``extra``) and a checkpoint of its untrained model (seed 0), as
    `zoo train` writes them (``tmp_path/model.pth``, with the model's identity)."""
    import torch

    import registry
    from zoo.config import load_config
    from zoo.detectors.builder import build_detector
    from zoo.identity import model_identity
    cfg_path = write_tiny_config(tmp_path, extra=extra)
    cfg = load_config(cfg_path)
    registry.discover()
    torch.manual_seed(0)
    ckpt = {'meta': {'zoo_model': model_identity(cfg)},
            'state_dict': build_detector(cfg.model).state_dict()}
    torch.save(ckpt, tmp_path / 'model.pth')
    return cfg_path, str(tmp_path / 'model.pth')


@pytest.fixture
def model_files(tmp_path):
    """:func:`write_model_files` in ``tmp_path``."""
    return write_model_files(tmp_path)
