"""RPNHead: a batch gives each image the proposals it gets alone."""
import torch

import registry
from zoo.structures import DetDataSample

CFG = dict(type='RPNHead', in_channels=8, feat_channels=8,
           anchor_generator=dict(type='AnchorGenerator', strides=[4, 8], sizes=[[16], [32]],
                                 ratios=[0.5, 1.0, 2.0]),
           test_cfg=dict(nms_pre=200, max_per_img=50, nms=dict(iou_threshold=0.7),
                         min_bbox_size=1e-3),
           train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                                        min_pos_iou=0.0, match_low_quality=True),
                          sampler=dict(type='RandomSampler', num=64, pos_fraction=0.5),
                          allowed_border=-1))


def _head():
    registry.discover()
    torch.manual_seed(0)
    head = registry.build('head', CFG)
    for conv in (head.rpn_cls, head.rpn_reg):  # spread the scores: no ties, distinct boxes
        torch.nn.init.normal_(conv.weight, std=1.0)
    return head.eval()


def _samples(shapes):
    return [DetDataSample(metainfo=dict(img_shape=s, batch_input_shape=(64, 96))) for s in shapes]


def test_batched_proposals_equal_per_image():
    head = _head()
    g = torch.Generator().manual_seed(1)
    feats = (torch.randn(3, 8, 16, 24, generator=g), torch.randn(3, 8, 8, 12, generator=g))
    shapes = [(64, 96), (60, 80), (64, 90)]
    with torch.no_grad():
        batched = head.predict(feats, _samples(shapes))
        for i, shape in enumerate(shapes):
            alone = head.predict(tuple(f[i:i + 1] for f in feats), _samples([shape]))[0]
            assert alone.bboxes.shape[0] == 50
            # each image keeps its own proposals, best first, inside its own image
            # (a batch of 3 convolves in another order: 1-ulp differences)
            assert torch.allclose(batched[i].scores, alone.scores, rtol=0, atol=1e-6)
            assert torch.allclose(batched[i].bboxes, alone.bboxes, rtol=0, atol=1e-4)
            assert bool((batched[i].bboxes[:, 2] <= shape[1]).all())
            assert bool((batched[i].bboxes[:, 3] <= shape[0]).all())


def test_one_convolution_for_both_outputs_equals_the_two_convolutions():
    """rpn_cls and rpn_reg run as one 1x1 convolution: the outputs and every gradient are
    those of the two separate convolutions (torchvision's RPNHead layout)."""
    head = _head().train()
    torch.nn.init.normal_(head.rpn_cls.bias)
    torch.nn.init.normal_(head.rpn_reg.bias)
    g = torch.Generator().manual_seed(2)
    feats = [torch.randn(2, 8, 16, 24, generator=g).requires_grad_(),
             torch.randn(2, 8, 8, 12, generator=g).requires_grad_()]
    cls_scores, bbox_preds = head(feats)
    weights = [torch.randn(t.shape, generator=g) for t in cls_scores + bbox_preds]
    sum((t * w).sum() for t, w in zip(cls_scores + bbox_preds, weights)).backward()
    fused = [p.grad.clone() for p in head.parameters()] + [f.grad.clone() for f in feats]

    head.zero_grad()
    feats = [f.detach().requires_grad_() for f in feats]
    cls_ref, bbox_ref = [], []
    for f in feats:
        x = torch.relu(head.rpn_conv(f))
        cls_ref.append(head.rpn_cls(x))
        bbox_ref.append(head.rpn_reg(x))
    assert [t.shape for t in cls_scores] == [(2, 3, 16, 24), (2, 3, 8, 12)]
    assert [t.shape for t in bbox_preds] == [(2, 12, 16, 24), (2, 12, 8, 12)]
    for a, e in zip(cls_scores + bbox_preds, cls_ref + bbox_ref):
        assert torch.allclose(a, e, rtol=1e-5, atol=1e-5)
    sum((t * w).sum() for t, w in zip(cls_ref + bbox_ref, weights)).backward()
    separate = [p.grad for p in head.parameters()] + [f.grad for f in feats]
    for a, e in zip(fused, separate):  # sums of up to 2x16x24 terms of size ~10: rounding
        assert torch.allclose(a, e, rtol=1e-5, atol=1e-6 * float(e.abs().max())), \
            float((a - e).abs().max())
