"""A detector with channels_last=True: NHWC weights and inputs, the same outputs and losses."""
import copy

import torch

import registry
from zoo.benchmark.agreement import compare_detections
from zoo.detectors.builder import build_detector


def test_channels_last_model_gives_the_same_detections_and_losses(detector_cfg, raw_batch):
    registry.discover()
    torch.manual_seed(0)
    nhwc = build_detector(detector_cfg())
    with torch.no_grad():  # confident classes: no near-ties for NMS to break differently
        torch.nn.init.normal_(nhwc.roi_head.bbox_head.fc_cls.weight, std=0.5)
    cfg = detector_cfg()
    cfg.channels_last = False
    nchw = build_detector(cfg)
    nchw.load_state_dict(nhwc.state_dict())
    assert nhwc.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc.rpn_head.rpn_conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert nchw.backbone.conv1.weight.is_contiguous()
    # loading a state dict keeps the layout
    nhwc.load_state_dict(copy.deepcopy(nchw.state_dict()))
    assert nhwc.backbone.layer2[0].conv1.weight.is_contiguous(memory_format=torch.channels_last)

    nhwc.eval(), nchw.eval()
    with torch.no_grad():
        data = nhwc.data_preprocessor(raw_batch(), False)
        assert data['inputs'].is_contiguous(memory_format=torch.channels_last)
        assert nchw.data_preprocessor(raw_batch(), False)['inputs'].is_contiguous()
        feats = nhwc.extract_feat(data['inputs'])
        assert feats[0].is_contiguous(memory_format=torch.channels_last)
        dets = [nhwc(data['inputs'], copy.deepcopy(data['data_samples']), mode='predict'),
                nchw(data['inputs'], copy.deepcopy(data['data_samples']), mode='predict')]
    a, b = ([dict(boxes=s.pred_instances.bboxes, scores=s.pred_instances.scores,
                  labels=s.pred_instances.labels) for s in d] for d in dets)
    result = compare_detections(b, a, box_atol=1e-3, score_atol=1e-5)
    assert result.ok, result.problems
    assert result.detections > 20

    nhwc.train(), nchw.train()
    losses = []
    for model in (nhwc, nchw):
        torch.manual_seed(1)  # the same sampled anchors and RoIs
        losses.append(model(data['inputs'], copy.deepcopy(data['data_samples']), mode='loss'))
    for key in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'):
        assert torch.allclose(losses[0][key], losses[1][key], rtol=1e-4, atol=1e-6), key
