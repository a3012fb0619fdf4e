"""The planted bugs of the mutation check (``tools/mutate.py``; docs/testing.md).

Each mutation replaces one exact piece of source text (``old``, which must occur exactly once in
``path``) by ``new``, and names the test files that must catch it. Keep ``old`` short but
unique; when a refactor moves or rewrites the code, ``tools/mutate.py --check`` (and the default
test ``tests/tools/test_mutations.py``) fails until the mutation is updated, so that no planted
bug disappears silently.
"""
from __future__ import annotations

from typing import NamedTuple


class Mutation(NamedTuple):
    name: str
    path: str            # file, relative to the repository root
    old: str             # exact source text, occurring once
    new: str             # what the bug puts there
    tests: tuple         # test files (or node ids) that must fail
    why: str             # the bug, in words


RPN = 'plugins/heads/rpn_head.py'
ROI = 'plugins/heads/standard_roi_head.py'
BBOX = 'plugins/heads/shared2fc_bbox_head.py'
ASSIGNER = 'plugins/assigners/max_iou_assigner.py'
SAMPLER = 'plugins/samplers/random_sampler.py'
YOLOV3 = 'plugins/heads/yolov3_head.py'
YOLOV1 = 'plugins/heads/yolov1_head.py'
RETINA = 'plugins/heads/retina_head.py'
FOCAL = 'plugins/losses/focal_loss.py'
FPN = 'plugins/necks/fpn.py'
DETECTOR = 'zoo/detectors/base.py'
RUNNER = 'zoo/runner/build.py'

RPN_TESTS = ('tests/plugins/test_rpn_targets_by_hand.py',)
ROI_TESTS = ('tests/plugins/test_roi_head_targets_by_hand.py',)
PARITY = ('tests/parity/test_torchvision_training_parity.py',)
YOLO_TESTS = ('tests/yolo/test_yolo_heads.py',)
YOLOV3_TESTS = ('tests/yolo/test_yolo_heads.py', 'tests/yolo/test_yolov3_normalizers_by_hand.py')
DDP_TESTS = ('tests/runner/test_ddp_cpu.py',)
RETINA_TESTS = ('tests/retinanet/test_retina_head.py',)

MUTATIONS = [
    # --- the three bugs of issue 14 --------------------------------------------------------
    Mutation('rpn_labels_swapped', RPN,
             'sel_labels += [torch.zeros_like(pos), torch.ones_like(neg)]',
             'sel_labels += [torch.ones_like(pos), torch.zeros_like(neg)]',
             RPN_TESTS, 'RPN object and background labels swapped'),
    Mutation('rpn_border_remap_deleted', RPN,
             '            if valid_idx is not None:\n'
             '                pos, neg = valid_idx[pos], valid_idx[neg]\n',
             '',
             RPN_TESTS, 'allowed_border: indices among the inside anchors used as indices '
                        'among all anchors'),
    Mutation('roi_targets_wrong_rois', BBOX,
             'priors = rois[pos, 1:]',
             'priors = rois[pos, 1:].flip(0)',
             ROI_TESTS, 'RoI regression targets paired with the wrong RoIs'),
    # --- RPN -------------------------------------------------------------------------------
    Mutation('rpn_normalizer_halved', RPN,
             'num_samples = max(labels.numel(), 1)',
             'num_samples = max(labels.numel() // 2, 1)',
             RPN_TESTS, 'RPN losses averaged over half the sampled anchors'),
    Mutation('rpn_encode_arguments_swapped', RPN,
             'self.bbox_coder.encode(priors[pos], result.pos_gt_bboxes)',
             'self.bbox_coder.encode(result.pos_gt_bboxes, priors[pos])',
             RPN_TESTS, 'RPN regression targets from box to anchor instead of anchor to box'),
    Mutation('rpn_softmax_layout_not_flipped', RPN,
             '.reshape(B, -1, 2).flip(-1)',
             '.reshape(B, -1, 2)',
             RPN_TESTS, "two-way softmax RPN: py-faster-rcnn's (background, object) channels "
                        'read as (object, background)'),
    Mutation('rpn_delta_channels_misread', RPN,
             'reg.view(B, A, 4, H, W).permute(0, 3, 4, 1, 2)',
             'reg.view(B, 4, A, H, W).permute(0, 3, 4, 2, 1)',
             PARITY, "RPN delta channels read as (delta, anchor) instead of torchvision's "
                     '(anchor, delta)'),
    Mutation('rpn_box_loss_on_negatives', RPN,
             'pos_preds.append(deltas[i, pos])\n'
             '                pos_targets.append(self.bbox_coder.encode(priors[pos], '
             'result.pos_gt_bboxes))',
             'pos_preds.append(deltas[i, pos])\n'
             '                pos_targets.append(self.bbox_coder.encode(priors[pos], '
             'result.pos_gt_bboxes))\n'
             '                pos_preds.append(deltas[i, neg])\n'
             '                pos_targets.append(torch.zeros_like(deltas[i, neg]))',
             RPN_TESTS, 'RPN box loss also pulls negative anchors towards zero deltas'),
    Mutation('rpn_proposal_score_of_background', RPN,
             'return logits.softmax(-1)[..., 0]',
             'return logits.softmax(-1)[..., 1]',
             ('tests/runner/test_alternating_training.py::'
              'test_fast_rcnn_steps_train_on_the_proposals_of_the_rpn_before_them',),
             'two-way softmax RPN ranks proposals by the background probability'),
    Mutation('rpn_cls_weight_detached', RPN,
             'weight = torch.cat([self.rpn_cls.weight, self.rpn_reg.weight])',
             'weight = torch.cat([self.rpn_cls.weight.detach(), self.rpn_reg.weight])',
             ('tests/recipes/test_recipes.py::test_recipe_builds_takes_a_finite_step_and_predicts'
              '[faster_rcnn_zf_bccd.py]',),
             'the RPN objectness weights get no gradient (one trainable parameter of many)'),
    # --- assigner and sampler (shared by the RPN and the RoI head) ------------------------
    Mutation('assigner_no_low_quality_matches', ASSIGNER,
             'gt_inds = torch.where(lq, lq_gt + 1, gt_inds)',
             'gt_inds = gt_inds',
             RPN_TESTS, "the paper's 'anchor with the highest IoU with a box' positives dropped"),
    Mutation('assigner_negative_range_closed', ASSIGNER,
             'neg = (assign_overlaps >= lo) & (assign_overlaps < hi)',
             'neg = (assign_overlaps >= 0) & (assign_overlaps < hi)',
             ROI_TESTS, "Fast R-CNN's background range [0.1, 0.5) read as [0, 0.5)"),
    Mutation('sampler_negatives_uncapped', SAMPLER,
             'num_neg = torch.minimum(neg_mask.sum(dim=1), self.num - num_pos)',
             'num_neg = neg_mask.sum(dim=1)',
             ('tests/plugins/test_samplers.py',), 'negatives not capped at num - positives'),
    Mutation('sampler_wrong_matched_boxes', SAMPLER,
             'assigned = gt_inds[pos_inds] - 1',
             'assigned = (gt_inds[pos_inds] - 1).flip(0)',
             ('tests/plugins/test_samplers.py',) + ROI_TESTS,
             'sampled positives paired with the boxes of other positives'),
    Mutation('sampler_priors_reordered', SAMPLER,
             '        priors = priors[:, :4]\n',
             '        priors = priors.flip(0)[:, :4]\n',
             ('tests/plugins/test_samplers.py',),
             'sampled boxes taken from the priors in another order than the assignment'),
    Mutation('sampler_gt_labels_misplaced', SAMPLER,
             'labels = torch.cat((gt_labels.to(device=dev, dtype=torch.long), labels))',
             'labels = torch.cat((labels, gt_labels.to(device=dev, dtype=torch.long)))',
             ROI_TESTS, 'added gt boxes take the labels of other priors'),
    # --- RoI head and box head ------------------------------------------------------------
    Mutation('roi_labels_interleaved', ROI,
             'labels = torch.cat(labels[0::2] + labels[1::2])',
             'labels = torch.cat(labels)',
             ROI_TESTS, 'RoI labels per image (pos, neg, pos, neg) while the RoIs are all '
                        'positives first'),
    Mutation('roi_background_label_zero', ROI,
             'res.pos_gt_labels.new_full((res.neg_priors.shape[0],), C)',
             'res.pos_gt_labels.new_full((res.neg_priors.shape[0],), 0)',
             ROI_TESTS, 'background RoIs labelled as class 0'),
    Mutation('bbox_head_deltas_of_class_0', BBOX,
             'torch.arange(labels.numel()), labels]',
             'torch.arange(labels.numel()), labels * 0]',
             ROI_TESTS, 'class-specific regression reads the deltas of class 0'),
    Mutation('bbox_head_box_loss_over_positives', BBOX,
             'loss_bbox = self.loss_bbox(pred, target, avg_factor=num)',
             'loss_bbox = self.loss_bbox(pred, target, avg_factor=max(int(pos.sum()), 1))',
             ROI_TESTS, 'Fast R-CNN box loss averaged over positives, not over sampled RoIs'),
    # --- YOLO heads -------------------------------------------------------------------------
    Mutation('yolov3_objectness_without_negatives', YOLOV3,
             'obj_weight = (pos | neg).to(preds.dtype)',
             'obj_weight = pos.to(preds.dtype)',
             YOLO_TESTS, 'YOLOv3 objectness loss ignores the negatives'),
    Mutation('yolov3_class_loss_over_positives', YOLOV3,
             'loss_cls = self.loss_cls(preds[b_idx, n_idx, 5:], pos_labels, avg_factor=B)',
             'loss_cls = self.loss_cls(preds[b_idx, n_idx, 5:], pos_labels, '
             'avg_factor=max(b_idx.numel(), 1))',
             YOLOV3_TESTS, 'YOLOv3 class loss divided by the positives, not the images'),
    Mutation('yolov3_positives_matched_to_first_image', YOLOV3,
             'pos_gt = all_gts[offsets[b_idx] + assign.gt_inds[b_idx, n_idx] - 1]',
             'pos_gt = all_gts[assign.gt_inds[b_idx, n_idx] - 1]',
             YOLOV3_TESTS, "YOLOv3 positives of later images regress to the first image's boxes"),
    Mutation('yolov3_encode_wrong_stride', YOLOV3,
             'target = self.bbox_coder.encode(priors[n_idx], pos_gt, strides[n_idx])',
             'target = self.bbox_coder.encode(priors[n_idx], pos_gt, strides[n_idx] * 2)',
             YOLO_TESTS, 'YOLOv3 box targets encoded with the wrong stride'),
    Mutation('yolov1_least_overlapping_predictor', YOLOV1,
             'resp = ious.argmax(1)',
             'resp = ious.argmin(1)',
             YOLO_TESTS, 'YOLOv1: the predictor with the lowest IoU made responsible'),
    Mutation('yolov1_noobj_on_objects', YOLOV1,
             '(flat_conf[~obj_mask] ** 2)',
             '(flat_conf[obj_mask] ** 2)',
             YOLO_TESTS, 'YOLOv1 no-object loss on the responsible boxes'),
    Mutation('yolov1_no_square_root', YOLOV1,
             '.clamp(min=0).sqrt()), 1)',
             '.clamp(min=0)), 1)',
             YOLO_TESTS, 'YOLOv1 width/height targets without the square root'),
    # --- RetinaNet's dense focal head -----------------------------------------------------
    Mutation('retina_normalized_by_all_anchors', RETINA,
             'num_pos = pos.sum().to(logits.dtype).clamp(min=1.0)',
             'num_pos = weights.sum().clamp(min=1.0)',
             RETINA_TESTS, 'RetinaNet losses divided by every non-ignored anchor instead of the '
                           'positives'),
    Mutation('retina_ignored_anchors_as_negatives', RETINA,
             'weights.append((res.gt_inds >= 0).to(priors.dtype))',
             'weights.append(torch.ones_like(res.gt_inds, dtype=priors.dtype))',
             RETINA_TESTS, 'anchors in the ignore band (IoU in [0.4, 0.5)) trained as background'),
    Mutation('focal_loss_without_gamma', FOCAL,
             'alpha=self.alpha, gamma=self.gamma',
             'alpha=self.alpha, gamma=0.0',
             RETINA_TESTS, 'focal loss without its focusing term (alpha-weighted cross-entropy)'),
    Mutation('retina_prior_bias_sign_flipped', RETINA,
             'return -math.log((1 - prior_prob) / prior_prob)',
             'return math.log((1 - prior_prob) / prior_prob)',
             RETINA_TESTS, 'classifier bias at prior probability 1 - pi instead of pi'),
    Mutation('retina_box_targets_reversed', RETINA,
             'self.bbox_coder.encode(priors[n_idx], targets)',
             'self.bbox_coder.encode(targets, priors[n_idx])',
             RETINA_TESTS, 'RetinaNet regression targets from box to anchor instead of anchor to box'),
    Mutation('retina_class_channels_misread', RETINA,
             'cls.float().reshape(B, A, C, H, W).permute(0, 3, 4, 1, 2)',
             'cls.float().reshape(B, C, A, H, W).permute(0, 3, 4, 2, 1)',
             RETINA_TESTS, "class channels read as (class, anchor) instead of torchvision's "
                           '(anchor, class)'),
    Mutation('fpn_p6_from_p5_on_input', FPN,
             'extra_block.use_P5 = not on_input',
             'extra_block.use_P5 = in_channels[-1] == out_channels',
             RETINA_TESTS, "extra_convs='on_input' computes P6 from P5 when C5 has the output's "
                           'channels (torchvision decides by the channels)'),
    # --- data-parallel training ----------------------------------------------------------
    Mutation('ddp_loss_summed_over_processes', DETECTOR,
             '        check_finite(losses)\n'
             '        return super().parse_losses(losses)\n',
             '        check_finite(losses)\n'
             '        loss, log_vars = super().parse_losses(losses)\n'
             '        if torch.distributed.is_initialized():\n'
             '            loss = loss * torch.distributed.get_world_size()\n'
             '        return loss, log_vars\n',
             DDP_TESTS, 'gradients summed over the processes instead of averaged'),
    Mutation('ddp_gradients_not_synchronised', RUNNER,
             '        init_cpu_process_group(cfg.launcher)\n',
             '        init_cpu_process_group(cfg.launcher)\n'
             "        cfg.launcher = 'none'  # the runner then wraps no DDP around the model\n",
             DDP_TESTS, 'each process steps on its own gradients (no DDP wrapper), while the '
                        'data are still split between them'),
]
