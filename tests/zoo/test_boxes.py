"""The one implementation of the box operations (zoo.structures, re-exported by zoo.api), against
torchvision's and hand-computed values."""
import pytest
import torch
import torchvision

from zoo.api import (box_iof, box_iou, clip_boxes, inside_flags, paired_iou, rescale_boxes, shape_iou,
                     size_keep_mask)

A = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 15.0, 25.0]])
B = torch.tensor([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0]])


def test_box_iou_is_torchvisions_and_batches():
    assert box_iou(A, B).tolist() == torchvision.ops.box_iou(A, B).tolist()
    # by hand: [0, 0, 10, 10] and [5, 0, 15, 10] share 5 x 10 = 50 of 100 + 100 - 50
    assert box_iou(A, B)[0, 1].item() == pytest.approx(50 / 150)
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(3, 6, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 1 + torch.rand(3, 6, 2, generator=g) * 30], -1)
    batched = box_iou(boxes[:, :4], boxes[:, 2:])                            # (3, 4, 4)
    for i in range(3):
        assert torch.allclose(batched[i], torchvision.ops.box_iou(boxes[i, :4], boxes[i, 2:]))


def test_a_zero_area_box_has_iou_zero_not_nan():
    empty = torch.zeros(1, 4)
    assert box_iou(empty, torch.cat([empty, A])).tolist() == [[0.0, 0.0, 0.0]]
    assert box_iof(empty, A).tolist() == [[0.0, 0.0]]


def test_iof_paired_and_shape_iou_by_hand():
    # IoF: intersection over the first box's area
    assert box_iof(A[:1], B[1:2]).item() == pytest.approx(50 / 100)
    # [5, 5, 15, 25] and [5, 0, 15, 10]: 10 x 5 = 50 of 200 + 100 - 50
    assert paired_iou(A, B[:2]).tolist() == pytest.approx([100 / (100 + 1e-7), 50 / 250])
    assert paired_iou(A[:1], B[1:2]).item() == pytest.approx(50 / 150)
    assert shape_iou(torch.tensor([[10.0, 10.0]]), torch.tensor([[10.0, 40.0], [20.0, 5.0]]))[0].tolist() \
        == pytest.approx([100 / 400, 50 / 150])


def test_clip_one_image_and_per_image_of_a_batch():
    boxes = torch.tensor([[-5.0, -2.0, 50.0, 70.0]])
    assert clip_boxes(boxes, (60, 40)).tolist() == [[0.0, 0.0, 40.0, 60.0]]
    batch = boxes.expand(2, 3, 4)
    out = clip_boxes(batch, [(60, 40), (20, 30, 3)])                        # (h, w[, c]) per image
    assert out[0, 0].tolist() == [0.0, 0.0, 40.0, 60.0]
    assert out[1, 2].tolist() == [0.0, 0.0, 30.0, 20.0]
    per_roi = clip_boxes(boxes.expand(2, 5, 4), torch.tensor([[60.0, 40.0], [20.0, 30.0]]))
    assert per_roi[1, 4].tolist() == [0.0, 0.0, 30.0, 20.0]
    with pytest.raises(ValueError, match='one \\(h, w\\) per image'):
        clip_boxes(batch, [(60, 40)] * 3)


def test_rescale_by_one_factor_or_one_per_box():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0], [10.0, 20.0, 30.0, 40.0]])
    assert rescale_boxes(boxes, (2.0, 4.0)).tolist() == [[5.0, 5.0, 15.0, 10.0]] * 2
    factors = torch.tensor([[2.0, 4.0], [1.0, 0.5]])
    assert rescale_boxes(boxes, factors).tolist() == [[5.0, 5.0, 15.0, 10.0], [10.0, 40.0, 30.0, 80.0]]


def test_size_keep_mask_drops_small_and_empty_boxes():
    boxes = torch.tensor([[0.0, 0.0, 16.0, 16.0], [0.0, 0.0, 15.9, 40.0], [5.0, 5.0, 5.0, 9.0],
                          [0.0, 0.0, 0.5, 0.5]])
    assert size_keep_mask(boxes, 16).tolist() == [True, False, False, False]
    assert size_keep_mask(boxes, 0).tolist() == [True, True, False, True]     # empty always dropped


def test_inside_flags_with_a_border():
    anchors = torch.tensor([[-1.0, 0.0, 10.0, 10.0], [0.0, 0.0, 40.0, 30.0]])
    assert inside_flags(anchors, (30, 40)).tolist() == [False, True]
    assert inside_flags(anchors, (30, 40), allowed_border=1).tolist() == [True, True]
    assert inside_flags(anchors, (20, 40), allowed_border=-1).tolist() == [True, True]
