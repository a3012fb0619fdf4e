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
MOSAIC = 'zoo/transforms/mosaic.py'
MULTISCALE = 'zoo/transforms/batch_resize.py'
PREPROCESSOR = 'zoo/transforms/data_preprocessor.py'

RPN_TESTS = ('tests/plugins/test_rpn_targets_by_hand.py',)
ROI_TESTS = ('tests/plugins/test_roi_head_targets_by_hand.py',)
PARITY = ('tests/parity/test_torchvision_training_parity.py',)
YOLO_TESTS = ('tests/yolo/test_yolo_heads.py',)
YOLOV3_TESTS = ('tests/yolo/test_yolo_heads.py', 'tests/yolo/test_yolov3_normalizers_by_hand.py')
DDP_TESTS = ('tests/runner/test_ddp_cpu.py',)
ANALYSIS_HAND = ('tests/analysis/test_tide.py', 'tests/analysis/test_confusion.py',
                 'tests/analysis/test_pr_curve.py')
ANALYSIS_CLI = ('tests/analysis/test_analyze_cli.py',)
EXPORT_PARTS = ('tests/export/test_export_parts.py',)
EXPORT_ONNX = 'tests/export/test_export_onnx.py'
EXPORT_CLI = 'zoo/cli/export_cmd.py'
INFERENCE = 'zoo/inference/detector.py'
INFERENCE_TESTS = ('tests/runner/test_inference_api.py',)
MODEL_ZOO = 'zoo/ablation/model_zoo.py'
MODEL_ZOO_TESTS = ('tests/runner/test_model_zoo.py',)
AGREEMENT = 'zoo/benchmark/agreement.py'
AGREEMENT_TESTS = ('tests/benchmark/test_benchmark_agreement.py',)
BUDGET = 'zoo/runner/time_budget.py'
BUDGET_TESTS = ('tests/runner/test_time_budget.py',)
VS_ULTRA_TESTS = ('tests/benchmark/test_vs_ultralytics.py',)
MOSAIC_TESTS = ('tests/yolo/test_mosaic.py',)
MULTISCALE_TESTS = ('tests/yolo/test_multiscale.py',)
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
    # --- Mosaic and multi-scale training (issue 20) -------------------------------------------
    Mutation('mosaic_boxes_not_cut', MOSAIC,
           'boxes.append(torch.minimum(torch.maximum(b, lo), up))',
           'boxes.append(b)',
           MOSAIC_TESTS, 'Mosaic: boxes moved but not cut to the visible part of their image'),
    Mutation('mosaic_boxes_not_scaled', MOSAIC,
           'b = b * torch.tensor([wi / w0, hi / h0, wi / w0, hi / h0])',
           'b = b * torch.tensor([1.0, 1.0, 1.0, 1.0])',
           MOSAIC_TESTS, 'Mosaic: boxes not scaled with their resized image'),
    Mutation('mosaic_left_tiles_offset_as_top', MOSAIC,
           "x0 = cx - wi if pos.endswith('left') else cx",
           "x0 = cx - wi if pos.startswith('top') else cx",
           MOSAIC_TESTS, 'Mosaic: the x offset of the bottom-left and top-right tiles swapped'),
    Mutation('mosaic_keeps_empty_boxes', MOSAIC,
           'keep = (bw > 0) & (bh > 0) & (bw >= self.min_bbox_size)',
           'keep = (bw >= 0) & (bh >= 0) & (bw >= self.min_bbox_size)',
           MOSAIC_TESTS, 'Mosaic: boxes with no visible part kept (with min_bbox_size 0)'),
    Mutation('mosaic_ignores_min_bbox_size', MOSAIC,
           '(bw >= self.min_bbox_size) & (bh >= self.min_bbox_size)',
           '(bw >= 0) & (bh >= 0)',
           MOSAIC_TESTS, 'Mosaic: slivers below min_bbox_size kept'),
    Mutation('mosaic_labels_not_filtered', MOSAIC,
           'boxes, labels, flags = boxes[keep], labels[keep], flags[keep]',
           'boxes, labels, flags = boxes[keep], labels[:int(keep.sum())], flags[keep]',
           MOSAIC_TESTS, 'Mosaic: labels of the dropped boxes kept, the others shifted'),
    Mutation('mosaic_extra_samples_skip_the_prefix', 'zoo/transforms/compose.py',
           'prefix = functools.partial(self._run, transforms[:k])',
           'prefix = functools.partial(self._run, [])',
           MOSAIC_TESTS, 'the samples mixed in do not go through the transforms before Mosaic'),
    Mutation('mosaic_bad_mix_sample_not_replaced', 'zoo/datasets/base_det_dataset.py',
             'out = pipeline(self.prepare_results(i), self)',
             'out = pipeline(self.prepare_results(idx), self)',
             MOSAIC_TESTS, 'skip_bad_samples: an unreadable image drawn for a mosaic is retried '
                           'instead of replaced by the next sample'),
    Mutation('multiscale_every_batch', MULTISCALE,
           'if self._input_size is None or self._batches % self.interval == 0:',
           'if True:',
           MULTISCALE_TESTS, 'multi-scale: a new size every batch instead of every interval'),
    Mutation('multiscale_top_size_never_drawn', MULTISCALE,
           'torch.randint(self._k_range[0], self._k_range[1] + 1, ())',
           'torch.randint(self._k_range[0], self._k_range[1], ())',
           MULTISCALE_TESTS, 'multi-scale: the top of the range (608) never drawn'),
    Mutation('multiscale_boxes_not_scaled', MULTISCALE,
           'inst.bboxes = inst.bboxes * factors.to(inst.bboxes)',
           'inst.bboxes = inst.bboxes * 1.0',
           MULTISCALE_TESTS, 'multi-scale: the image resized, its boxes not'),
    Mutation('multiscale_xy_factors_swapped', MULTISCALE,
           'torch.tensor([sx, sy, sx, sy]',
           'torch.tensor([sy, sx, sy, sx]',
           MULTISCALE_TESTS, 'multi-scale: x boxes scaled by the height factor'),
    Mutation('multiscale_scale_factor_kept', MULTISCALE,
           "meta['scale_factor'] = (fw * sx, fh * sy)",
           "meta['scale_factor'] = (fw, fh)",
           MULTISCALE_TESTS, 'multi-scale: scale_factor not updated (predictions would not '
                             'return to original pixels)'),
    Mutation('multiscale_not_broadcast', MULTISCALE,
           'broadcast(size, src=0)',
           'size = size.clone()',
           MULTISCALE_TESTS, 'multi-scale: each process keeps its own size'),
    Mutation('multiscale_in_testing_too', PREPROCESSOR,
           '        if training:\n            for aug in self.batch_augments:',
           '        if True:\n            for aug in self.batch_augments:',
           MULTISCALE_TESTS, 'batch augmentations applied in validation and testing'),
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
    # --- analysis (zoo analyze) -------------------------------------------------------------
    Mutation('tide_cls_called_loc', 'zoo/analysis/tide.py',
             "                det.error = 'cls'\n", "                det.error = 'loc'\n",
             ANALYSIS_HAND, 'TIDE: a classification error counted (and fixed) as a localization '
                            'error'),
    Mutation('tide_loc_before_cls', 'zoo/analysis/tide.py',
             '            elif iou_other >= t_f:\n',
             '            elif iou_other >= t_f and iou_same < t_b:\n',
             ANALYSIS_HAND, 'TIDE: the order of the error tests changed (localization before '
                            'classification)'),
    Mutation('tide_missed_counts_covered_boxes', 'zoo/analysis/tide.py',
             'if not used[g] and int(g) not in covered]', 'if not used[g]]',
             ANALYSIS_HAND, 'TIDE: boxes a cls/loc fix would find also counted as missed'),
    Mutation('tide_fix_claims_a_box_twice', 'zoo/analysis/tide.py',
             'if gt_used[det.image][det.target] or key in claimed:',
             'if gt_used[det.image][det.target]:',
             ANALYSIS_HAND, 'TIDE: two fixed detections become true positives of one box'),
    Mutation('confusion_background_row_off_by_one', 'zoo/analysis/confusion.py',
             'matrix[num_classes, label] += 1', 'matrix[num_classes - 1, label] += 1',
             ANALYSIS_HAND, 'confusion matrix: false detections in the last class\'s row'),
    Mutation('confusion_one_box_per_detection', 'zoo/analysis/confusion.py',
             '            for g in hits:\n', '            for g in hits[:1]:\n',
             ANALYSIS_HAND, 'confusion matrix: a detection counted on one box only (mmdet counts '
                            'each box it covers)'),
    Mutation('pr_no_precision_envelope', 'zoo/analysis/pr_curve.py',
             'envelope = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]',
             'envelope = np.asarray(precision, dtype=np.float64)',
             ANALYSIS_HAND, 'PR curve: precision read without COCO\'s monotone envelope'),
    Mutation('pr_recall_points_right', 'zoo/analysis/pr_curve.py',
             "side='left')", "side='right')",
             ANALYSIS_HAND, 'PR curve: precision read after the point that reaches the recall'),
    Mutation('matching_no_max_dets', 'zoo/analysis/matching.py',
             "kind='mergesort')[:max_dets]", "kind='mergesort')",
             ANALYSIS_HAND, 'matching: more than 100 detections per image and class scored'),
    Mutation('matching_crowd_not_last', 'zoo/analysis/matching.py',
             "order = np.argsort(gt_ignore, kind='mergesort')", 'order = np.arange(len(gt_ignore))',
             ANALYSIS_HAND, 'matching: ignored (crowd) boxes tried before regular ones'),
    Mutation('analyze_image_ids_off_by_one', 'zoo/analysis/records.py',
             'by_image = {i + 1: i for i in range(len(records))}',
             'by_image = {i: i for i in range(len(records))}',
             ANALYSIS_CLI, 'zoo analyze --results: detections put on the wrong image'),
    Mutation('analyze_test_run_drops_cfg_options', 'zoo/cli/analyze_cmd.py',
             "if name in vars(test_args) and name != 'func':",
             "if name in vars(test_args) and name not in ('func', 'cfg_options'):",
             ANALYSIS_CLI, 'zoo analyze CKPT: the test run ignores --cfg-options'),
    # --- ONNX export (zoo export) ---------------------------------------------------------
    Mutation('export_resize_rounding_truncated', 'zoo/export/preprocess.py',
             'torch.floor((out + one / 2) / one)',
             'torch.floor(out / one)',
             EXPORT_PARTS, "the graph's resize truncates the fixed-point sums instead of rounding "
                           "them as torchvision's uint8 kernel does"),
    Mutation('export_match_ignores_iou', 'zoo/export/check.py',
             '& (iou >= min_iou) &',
             '& (iou >= 0) &',
             EXPORT_PARTS, 'the export check accepts partners whose boxes do not overlap'),
    Mutation('export_graph_keeps_half_the_detections', 'zoo/api/head_utils.py',
             'keep = keep[:max_per_img]  # batched_nms',
             'keep = keep[:max_per_img // 2]  # batched_nms',
             (f'{EXPORT_ONNX}::test_zf_faster_rcnn_exports_and_agrees',),
             'the traced graph keeps max_per_img // 2 detections where PyTorch keeps max_per_img'),
    Mutation('export_graph_rpn_top_k_cut', RPN,
             'k = torch.clamp(n, max=nms_pre)',
             'k = torch.clamp(n, max=nms_pre // 20)',
             (f'{EXPORT_ONNX}::test_zf_faster_rcnn_exports_and_agrees',),
             "the traced RPN keeps a twentieth of the per-level top-k proposals"),
    Mutation('export_unsupported_op_not_named', 'zoo/export/onnx.py',
             'return m.group(1)',
             'return None',
             (f'{EXPORT_ONNX}::test_unsupported_op_fails_naming_it_and_writes_nothing',),
             'an export failure no longer names the operator without an ONNX conversion'),
    Mutation('export_written_when_disagreeing', EXPORT_CLI,
             '        if not result.ok:\n',
             '        if False:\n',
             (f'{EXPORT_ONNX}::test_disagreeing_export_fails_and_writes_nothing',),
             'a file whose detections differ from PyTorch is written anyway'),
    Mutation('export_overwrites_without_force', EXPORT_CLI,
             'if os.path.exists(args.out) and not args.force:',
             'if os.path.exists(args.out) and not args.force and False:',
             (f'{EXPORT_ONNX}::test_existing_file_is_refused_without_force',),
             'an existing --out file is replaced without --force'),
    Mutation('export_temporary_file_left', EXPORT_CLI,
             '            os.unlink(tmp)\n',
             '            pass\n',
             (f'{EXPORT_ONNX}::test_disagreeing_export_fails_and_writes_nothing',),
             'a failed export leaves its half-checked temporary file beside --out'),
    # --- the inference API and the model-zoo table ----------------------------------------
    Mutation('inference_bgr_not_swapped', 'zoo/inference/images.py',
             "        tensor = tensor.flip(0)\n", "        tensor = tensor\n",
             INFERENCE_TESTS, "channel_order='bgr' ignored: a BGR array is read as RGB"),
    Mutation('inference_boxes_in_resized_pixels', INFERENCE,
             'boxes=pred.bboxes[keep].detach()',
             "boxes=(pred.bboxes[keep] * torch.tensor(sample.metainfo['scale_factor'][:2]).repeat(2))"
             '.detach()',
             INFERENCE_TESTS, 'boxes in the pixels of the resized image, not of the original'),
    Mutation('inference_arrays_skip_the_resize', INFERENCE,
             'transforms=steps[1:] if loads else steps)', 'transforms=steps[-1:] if loads else steps)',
             INFERENCE_TESTS, 'in-memory images skip the test pipeline (no resize)'),
    Mutation('model_zoo_test_metrics_ignored', MODEL_ZOO,
             "metrics, source = test.get('metrics'), 'zoo test'", "metrics, source = None, 'zoo test'",
             MODEL_ZOO_TESTS, "the table shows the last validation, not zoo test's metrics"),
    Mutation('model_zoo_unfinished_run_listed', MODEL_ZOO,
             "    if record.get('state') not in (None, 'finished'):", '    if False:',
             MODEL_ZOO_TESTS, 'a stopped run with a validation in its logs gets a row'),
    Mutation('model_zoo_command_reconstructed', MODEL_ZOO,
             "train_command=record.get('command'),",
             "train_command=record.get('command') or f\"zoo train {record.get('config')}\",",
             MODEL_ZOO_TESTS, 'a run that recorded no command line is shown with an invented one'),
    Mutation('model_zoo_recipe_fingerprint_unchecked', MODEL_ZOO,
             "if model_identity(load_config(shipped))['fingerprint'] == fingerprint:", 'if True:',
             MODEL_ZOO_TESTS, "another checkout's config named as the shipped recipe of the same "
                              'path, whatever model it builds'),
    Mutation('model_zoo_profile_written_into_work_dir', MODEL_ZOO,
             '    if profile_dir is None:\n        return os.path.join(work_dir, PROFILE)',
             '    if True:\n        return os.path.join(work_dir, PROFILE)',
             MODEL_ZOO_TESTS, '--profile-dir ignored: the profile is written into the work dir'),
    Mutation('model_zoo_stale_profile_kept', MODEL_ZOO,
             "'checkpoint' not in saved or all(saved.get(k) == v for k, v in stamp.items())):",
             'True or all(saved.get(k) == v for k, v in stamp.items())):',
             MODEL_ZOO_TESTS, 'the saved profile of an earlier checkpoint is shown for a new one'),
    Mutation('model_zoo_profile_of_another_precision_kept', MODEL_ZOO,
             'if saved is not None and same_precision(saved, cfg) and (',
             'if saved is not None and (',
             MODEL_ZOO_TESTS, 'a float32 profile is shown for a run that infers in bfloat16'),
    Mutation('profile_ignores_amp', 'zoo/ablation/profile.py',
             "amp = bool(cfg.get('amp')) if amp is None else bool(amp)", 'amp = False',
             MODEL_ZOO_TESTS, 'an amp run profiled in float32, not as zoo infer runs it'),
    Mutation('model_zoo_amp_not_marked', MODEL_ZOO,
             " + (' (amp)' if r.get('amp') else '')", '',
             MODEL_ZOO_TESTS, 'a run trained under mixed precision is not marked (amp)'),
    Mutation('model_zoo_recipe_amp_of_the_run', MODEL_ZOO,
             "recipe_amp=None if shipped is None else bool(shipped.get('amp')),",
             "recipe_amp=None if shipped is None else bool(cfg.get('amp')),",
             MODEL_ZOO_TESTS, "a float32 run of a recipe that sets amp now is listed with a command "
                              'that trains in bfloat16, unmarked'),
    Mutation('model_zoo_repeat_note_flag_swapped', MODEL_ZOO,
             "    if now:\n        return ('<br>(trained in float32",
             "    if not now:\n        return ('<br>(trained in float32",
             MODEL_ZOO_TESTS, 'the note names the flag of the wrong precision'),
    Mutation('recipe_changes_count_precision', 'zoo/ablation/recipe_changes.py',
             "    recipe.amp = run.get('amp', False)\n", '',
             MODEL_ZOO_TESTS, "a float32 run of a recipe that sets amp now is marked as changed "
                              "(its optimizer wrapper's type)"),
    Mutation('recipe_changes_count_data_root', 'zoo/ablation/recipe_changes.py',
             "_IGNORED_LEAVES = ('data_root',)", '_IGNORED_LEAVES = ()',
             MODEL_ZOO_TESTS, "another checkout's data path counted as a change of the recipe"),
    Mutation('model_zoo_changed_recipe_unmarked', MODEL_ZOO,
             "    if not changes:\n        return ''", "    if True:\n        return ''",
             MODEL_ZOO_TESTS, 'a run of a recipe changed since is listed as the recipe'),
    Mutation('model_zoo_command_amp_ignored', MODEL_ZOO,
             "    now = _command_amp(row['train_command'], row['recipe_amp'])",
             "    now = row['recipe_amp']",
             MODEL_ZOO_TESTS, 'a command that already sets amp=False gets the note all the same'),
    Mutation('saved_config_of_a_later_test', 'zoo/runner/workdir.py',
             "if os.path.isfile(os.path.join(folder, 'vis_data', 'scalars.json')) and os.path.isfile(found):",
             'if os.path.isfile(found):',
             MODEL_ZOO_TESTS, "a work dir's config read from the log folder of a later zoo test, not "
                              "of its training (amp lost)"),
    Mutation('inference_grey_into_red_only', 'zoo/inference/images.py',
             'image = np.repeat(image[:, :, None], 3, axis=2)',
             'image = np.stack([image, 0 * image, 0 * image], axis=2)',
             INFERENCE_TESTS, 'a grey (H, W) array fills the red channel only'),
    # --- mixed precision (issue 18) -----------------------------------------------------------
    Mutation('force_fp32_does_not_cast', 'zoo/api/precision.py',
             'return value.float() if value.dtype in _LOW else value',
             'return value',
             ('tests/precision/test_roi_ops_precision.py',),
             'force_fp32 turns autocast off but leaves bfloat16 arguments in bfloat16'),
    Mutation('threaded_roi_pool_argmax_not_reordered', 'plugins/roi_extractors/threaded.py',
             'local, rows = rois[order], [t[order].contiguous() for t in rows]',
             'local, rows = rois[order], [rows[0][order].contiguous()] + '
             '[t.contiguous() for t in rows[1:]]',
             ('tests/precision/test_roi_ops_precision.py',),
             "threaded RoIPool backward: RoIs regrouped by image but their argmax rows not"),
    Mutation('amp_wrapper_without_autocast_on_cpu', 'zoo/runner/amp_optim_wrapper.py',
             'device_type=self.device_type, dtype=self.cast_dtype):',
             'device_type=self.device_type, dtype=self.cast_dtype, enabled=False):',
             ('tests/runner/test_amp_cli.py',),
             '--amp on the CPU trains in float32 (the wrapper never autocasts)'),
    Mutation('amp_eval_loops_in_float32', 'zoo/runner/precision.py',
             "cfg[key]['fp16'] = True",
             "cfg[key]['fp16'] = False",
             ('tests/runner/test_amp_cli.py',),
             '--amp: validation and test loops left in float32'),
    # --- benchmark: mixed-precision agreement, FLOP rates, torchvision's float32 regions -----
    Mutation('agreement_match_not_one_to_one', AGREEMENT,
             'row = iou[i].masked_fill(taken, -1.0)',
             'row = iou[i]',
             AGREEMENT_TESTS, 'one candidate detection matched to several reference detections'),
    Mutation('agreement_match_ignores_label', AGREEMENT,
             'fits = ((rl.long()[:, None] == cl.long()[None, :]) & (iou >= iou_thr)',
             'fits = ((iou >= iou_thr)',
             AGREEMENT_TESTS, 'detections of different classes matched'),
    Mutation('agreement_match_lowest_iou_partner', AGREEMENT,
             'j = int(row.argmax())\n        if row[j] < 0:',
             'j = int(row.masked_fill(row < 0, 2.0).argmin())\n        if row[j] < 0:',
             AGREEMENT_TESTS, 'a reference detection takes the fitting candidate of lowest IoU'),
    Mutation('agreement_share_over_reference_only', AGREEMENT,
             'larger = sum(max(p[1], p[2]) for p in per_image)',
             'larger = sum(p[1] for p in per_image)',
             AGREEMENT_TESTS, "the share ignores the candidate's extra detections"),
    Mutation('flops_peak_of_fastest_call', 'zoo/benchmark/flops.py',
             'gflops=gflops_per_second(flops, median(seconds)),',
             'gflops=gflops_per_second(flops, min(seconds)),',
             ('tests/benchmark/test_flops.py',),
             'the peak taken from the fastest call while the workloads use medians'),
    Mutation('torchvision_roi_align_in_low_precision', 'zoo/benchmark/reference.py',
             "                       (heads.box_roi_pool, ('forward',))):",
             '                       ):',
             ('tests/benchmark/test_amp_peer.py',),
             "torchvision's MultiScaleRoIAlign left to autocast (bfloat16 features)"),
    Mutation('torchvision_anchors_in_low_precision', 'zoo/benchmark/reference.py',
             '    anchors.forward = float32_anchors\n',
             '',
             ('tests/benchmark/test_amp_peer.py',),
             "torchvision's anchors made (and cached) in the feature maps' bfloat16"),
    # --- the training time budget (zoo train --time-budget) ------------------------------
    Mutation('budget_epoch_not_cut', BUDGET,
             '            if self._hook.spent:\n                return\n',
             '            if False:\n                return\n',
             BUDGET_TESTS, 'the epoch in progress runs to its end after the budget is spent'),
    Mutation('budget_loop_end_not_moved', BUDGET,
             'loop._max_epochs = loop.epoch + 1',
             'loop._max_epochs = loop.max_epochs',
             BUDGET_TESTS, 'after the budget, the epoch loop goes on (one batch per epoch) to its '
                           'configured end: no final validation at the stop, later checkpoints'),
    Mutation('budget_fit_keeps_cosine_length', BUDGET,
             'sched.T_max = new_end - begin',
             'pass',
             BUDGET_TESTS, '--fit-schedule moves the schedule\'s end but not the cosine\'s T_max: '
                           'the rate no longer reaches eta_min at the fitted end'),
    Mutation('budget_fit_overshoots', BUDGET,
             'self.first_epoch + int(self.minutes * 60.0 // mean)',
             'self.first_epoch + int(self.minutes * 60.0 // mean) + 1',
             BUDGET_TESTS, '--fit-schedule plans one epoch more than the budget holds'),
    Mutation('pipeline_switch_keeps_old_workers', 'zoo/runner/pipeline_switch.py',
             'torch_loader._iterator = None', 'pass',
             ('tests/runner/test_pipeline_switch.py',), 'PipelineSwitchHook replaces the '
             "pipeline in the main process only: persistent workers go on with the mosaic"),
    Mutation('pipeline_switch_from_configured_end', 'zoo/runner/pipeline_switch.py',
             'return runner.train_loop.max_epochs - self.num_last_epochs',
             'return runner.cfg.train_cfg.max_epochs - self.num_last_epochs',
             ('tests/runner/test_pipeline_switch.py',), 'num_last_epochs counted from the '
             'configured end, not from the end --fit-schedule refitted'),
    Mutation('config_check_without_runner_hooks', 'zoo/cli/config_cmd.py',
             "    import zoo.runner.build  # noqa: F401  (registers the zoo's hooks, e.g. "
             'PipelineSwitchHook)\n', '', ('tests/runner/test_pipeline_switch.py',),
             "zoo config refuses a recipe with PipelineSwitchHook: the hook is registered only once "
             'the runner is imported'),
    Mutation('affine_keeps_mostly_cut_boxes', 'zoo/transforms/affine.py',
             '& (area > self.min_area_ratio * full)', '',
             ('tests/yolo/test_random_affine.py',), 'RandomAffine keeps boxes of which almost '
             'nothing is left in the crop'),
    Mutation('eval_keeps_cast_cache', 'zoo/runner/build.py',
             "custom_hooks.append(dict(type='InferenceCastCacheHook'))", 'pass',
             ('tests/runner/test_amp_cli.py',), 'validation and zoo test --amp keep a bfloat16 copy '
             'of every weight to the end of each forward'),
    Mutation('budget_no_own_checkpoint', BUDGET,
             'if not os.path.isfile(path):',
             'if False:',
             BUDGET_TESTS, 'with save_last=False a budget-stopped run leaves no last checkpoint'),
    Mutation('budget_stop_at_schedule_end', BUDGET,
             '        if at_end:',
             '        if False:',
             BUDGET_TESTS, 'a budget spent at the last iteration records a finished run as '
                           'stopped at its budget'),
    Mutation('budget_recorded_as_finished', 'zoo/runner/workdir.py',
             'state=STOPPED_AT_BUDGET if stopped else',
             'state=',
             BUDGET_TESTS, 'a budget-stopped run recorded as finished'),
    # --- BCCD for Ultralytics and outside detections scored by the zoo --------------------
    Mutation('yolo_export_no_half', 'zoo/datasets/pixel_rules.py',
             'return [(x1 + x2) / 2 / width,',
             'return [(x1 + x2) / width,',
             VS_ULTRA_TESTS, 'YOLO labels written with cx = (x1 + x2) / W (no half)'),
    Mutation('ultralytics_data_yaml_relative', 'benchmarks/vs_ultralytics.py',
             "        spec['path'] = dst  #",
             "        spec['path'] = '.'  #",
             VS_ULTRA_TESTS, "data.yaml's path left relative: Ultralytics looks for the images "
                             'under its own datasets folder'),
    Mutation('outside_detections_not_matched', 'zoo/benchmark/coco_score.py',
             "det = detections.get(str(r['img_id'])) or {}",
             "det = detections.get(r['img_path']) or {}",
             VS_ULTRA_TESTS, 'outside detections looked up by image path instead of file stem: '
                             'none is scored'),
    Mutation('curve_first_seed_only', 'benchmarks/vs_ultralytics.py',
             'return [(b, sum(v) / len(v), min(v), max(v), len(v))',
             'return [(b, v[0], min(v), max(v), len(v))',
             VS_ULTRA_TESTS, "the curves show one seed's result instead of the mean over seeds"),
    Mutation('retina_mosaic_paper_anchors', 'configs/retinanet/retinanet_darknet_tiny_fpn_mosaic_bccd.py',
             'scales=[2.5, 2.5 * 2 ** (1 / 3), 2.5 * 2 ** (2 / 3)]',
             'scales=[3.0, 3.0 * 2 ** (1 / 3), 3.0 * 2 ** (2 / 3)]',
             ('tests/retinanet/test_retinanet_recipes.py',), 'the long RetinaNet recipe with anchors '
                                                              'a fifth larger than the fitted ones'),
    # --- ATSS ---------------------------------------------------------------------------------
    Mutation('atss_threshold_mean_only', 'plugins/assigners/atss_assigner.py',
             'thr = mean + var.sqrt()', 'thr = mean',
             ('tests/plugins/test_atss_assigner.py',), "ATSS's threshold without the standard deviation"),
    Mutation('atss_centre_rule_dropped', 'plugins/assigners/atss_assigner.py',
             'keep = (cand_iou >= thr) & inside & cand_valid', 'keep = (cand_iou >= thr) & cand_valid',
             ('tests/plugins/test_atss_assigner.py',), 'a candidate whose centre lies outside the box kept'),
    Mutation('atss_one_level', 'plugins/heads/retina_head.py',
             'extra = dict(num_level_priors=list(num_level_priors))',
             'extra = dict(num_level_priors=[sum(num_level_priors)])',
             ('tests/plugins/test_atss_assigner.py',), 'RetinaHead hands ATSS all levels as one: the '
                                                        'k nearest anchors of the whole pyramid'),
    Mutation('atss_first_gt_not_best', 'plugins/assigners/atss_assigner.py',
             'best_iou, best_gt = pos_iou.max(dim=0)', 'best_iou, best_gt = pos_iou.flip(0).max(dim=0)',
             ('tests/plugins/test_atss_assigner.py',), 'a shared anchor goes to the wrong gt box (the last; '
                                                        'indices off)'),
    # --- inference weights cast once ---------------------------------------------------------
    Mutation('lowp_cast_float32_region_layers', 'zoo/inference/low_precision_weights.py',
             'if name not in low or name in full:', 'if name not in low:',
             ('tests/precision/test_low_precision_weights.py',), 'a layer that also runs in a float32 '
                                                                  'region gets bfloat16 weights'),
    Mutation('lowp_cast_unrun_layers', 'zoo/inference/low_precision_weights.py',
             'low[name] = dtype\n', 'low.update({n: dtype for n in layers})\n',
             ('tests/precision/test_low_precision_weights.py',), 'layers whose forward never ran (a '
                                                                  'folded convolution) cast too'),
    Mutation('lowp_cast_on_failure', 'zoo/inference/low_precision_weights.py',
             '    try:\n        yield report\n    finally:\n        for h in handles:\n'
             '            h.remove()\n',
             '    try:\n        yield report\n    except BaseException:\n        pass\n    finally:\n'
             '        for h in handles:\n            h.remove()\n',
             ('tests/precision/test_low_precision_weights.py',), 'a failed pass still casts (and its '
                                                                  'error is swallowed)'),
    Mutation('detector_casts_nothing', 'zoo/inference/detector.py',
             'with cast_autocast_weights(self.model):', 'with contextlib.nullcontext():',
             ('tests/runner/test_inference_api.py',), 'Detector(amp=True) casts the weights on every call'),
    # --- NMS stopping at k per group ----------------------------------------------------------
    Mutation('nms_topk_unsorted_indices', 'zoo/structures/boxes.py',
             'return order[kept[:k]]', 'return kept[:k]',
             ('tests/zoo/test_nms_topk.py',), "the prefix's indices returned without mapping them back "
                                               'through the score order'),
    Mutation('nms_topk_stops_early', 'zoo/structures/boxes.py',
             'if kept.numel() >= k or n == total:', 'if kept.numel() >= k // 2 or n == total:',
             ('tests/zoo/test_nms_topk.py',), 'NMS stops with half the boxes a group should keep'),
    Mutation('nms_topk_unstable_prefix', 'zoo/structures/boxes.py',
             'order = torch.sort(scores, descending=True, stable=True).indices\n    boxes, scores = '
             'boxes[order], scores[order]',
             'order = torch.sort(-scores).indices.flip(0).flip(0)\n    boxes, scores = '
             'boxes[order], scores[order]',
             ('tests/zoo/test_nms_topk.py',), 'equal scores taken in an order other than the kernel\'s'),
    # --- own data and ablations, seen from outside ----------------------------------------------
    Mutation('ablate_variant_classes_unchecked', 'zoo/ablation/variant_config.py',
             '        check_num_classes(cfg)\n', '        pass\n',
             ('tests/runner/test_ablate.py',), 'a variant with the wrong num_classes fails only when '
                                               'its turn to train comes'),
    Mutation('roboflow_project_category_kept', 'zoo/data/detect.py',
             '    drop = [c for c in cats if is_group(c)]', '    drop = []',
             ('tests/data/test_roboflow_coco.py',), "Roboflow's project category becomes a class"),
    Mutation('roboflow_images_looked_for_elsewhere', 'zoo/data/detect.py',
             'if osp.basename(ann_file) == ROBOFLOW_COCO:', 'if False:',
             ('tests/data/test_roboflow_coco.py',), "a Roboflow split's images looked for in the "
                                                     'COCO layout\'s folders'),
    Mutation('roboflow_voc_reader_fixed_folders', 'zoo/data/reader.py',
             "    ann_dir = osp.join(root, cfg.get('ann_subdir', 'Annotations'))",
             "    ann_dir = osp.join(root, 'Annotations')",
             ('tests/data/test_roboflow_voc.py',), "zoo data inspect looks for a Roboflow VOC "
                                                   "export's XML files in Annotations/"),
    Mutation('roboflow_voc_suffix_always_jpg', 'zoo/data/detect.py',
             "    return stems.get(first, '.jpg') if first else '.jpg'", "    return '.jpg'",
             ('tests/data/test_roboflow_voc.py',), 'PNG images beside the XML files are not found'),
    Mutation('roboflow_voc_check_images_in_jpegimages', 'zoo/cli/export_cmd.py',
             "images = os.path.join(root, dataset.get('img_subdir', 'JPEGImages'))",
             "images = os.path.join(root, 'JPEGImages')",
             ('tests/data/test_roboflow_voc.py',), "zoo export's check images looked for in "
                                                   'JPEGImages/ only'),
    Mutation('roboflow_voc_wins_over_coco', 'zoo/data/detect.py',
             '    if _flat_voc_dirs(path) and not _roboflow_coco_files(path):',
             '    if _flat_voc_dirs(path):',
             ('tests/data/test_roboflow_voc.py',), 'a COCO export with stray XML files read as VOC'),
    Mutation('yolo_parent_fallback_dropped', 'zoo/data/detect.py',
             "            if value.startswith('../') and not osp.exists(osp.join(root, value)):",
             '            if False:',
             ('tests/data/test_roboflow_yolo.py',), "Roboflow's ../train/images not read as "
                                                    'train/images'),
    Mutation('yolo_parent_fallback_always', 'zoo/data/detect.py',
             "            if value.startswith('../') and not osp.exists(osp.join(root, value)):",
             "            if value.startswith('../'):",
             ('tests/data/test_roboflow_yolo.py',), 'a ../ split that exists read one level down'),
    Mutation('vs_ultralytics_labels_ignored', 'benchmarks/vs_ultralytics.py',
             "print(f'  {minutes:g} min: {label}: zoo '",
             "print(f'  {minutes:g} min: {recipe_label(config)}: zoo '",
             VS_ULTRA_TESTS, '--labels accepted but the rows keep the file names'),
]
