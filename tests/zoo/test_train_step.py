"""BaseDetector.train_step: mmengine's step, the preprocessed batch released before backward."""
import copy
import weakref

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper

import registry
from zoo.detectors.builder import build_detector


def _detector(cfg):
    registry.discover()
    torch.manual_seed(0)
    return build_detector(cfg)


def _optim(model):
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))


def test_train_step_is_mmengines_step(detector_cfg, raw_batch):
    ours = _detector(detector_cfg())
    theirs = copy.deepcopy(ours)
    torch.manual_seed(1)
    log_ours = ours.train_step(raw_batch(), _optim(ours))
    torch.manual_seed(1)
    log_theirs = BaseModel.train_step(theirs, raw_batch(), _optim(theirs))
    assert set(log_ours) == set(log_theirs) and 'loss' in log_ours
    for key in log_ours:
        assert torch.equal(log_ours[key], log_theirs[key]), key
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert torch.equal(p, q), name  # the same update


def test_train_step_releases_the_preprocessed_batch_before_backward(detector_cfg, raw_batch):
    model = _detector(detector_cfg())
    optim = _optim(model)
    batches = []
    preprocess = model.data_preprocessor.forward

    def recording(data, training=False):
        out = preprocess(data, training)
        batches.append(weakref.ref(out['inputs']))
        return out
    model.data_preprocessor.forward = recording
    alive_at_backward = []
    update = optim.update_params

    def checking(loss, **kwargs):
        alive_at_backward.append(batches[-1]() is not None)
        return update(loss, **kwargs)
    optim.update_params = checking
    model.train_step(raw_batch(), optim)
    assert alive_at_backward == [False]
    # mmengine's own step keeps it (what this override is for)
    BaseModel.train_step(model, raw_batch(), optim)
    assert alive_at_backward == [False, True]
