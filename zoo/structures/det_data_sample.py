"""The per-image record that travels with a batch (mmdet's ``DetDataSample``, on mmengine's
:class:`~mmengine.structures.BaseDataElement`).

Fields (each an :class:`~mmengine.structures.InstanceData`):

* ``gt_instances``: ``bboxes`` float (N, 4) xyxy in pixels of the transformed image (what the
  model sees, before padding); ``labels`` int64 (N,) in ``0 .. C-1``; ``ignore_flags`` bool (N,).
* ``proposals``: ``bboxes`` (K, 4) in input-tensor pixels, ``scores`` (K,).
* ``pred_instances``: ``bboxes`` (M, 4) xyxy in **original-image** pixels, ``scores`` (M,),
  ``labels`` int64 (M,).

Metainfo: ``img_path``, ``img_id``, ``ori_shape`` (h, w) of the file, ``img_shape`` (h, w) after
resize, ``scale_factor`` (w, h) = img_shape / ori_shape, ``flip`` (bool), ``pad_shape`` and
``batch_input_shape`` (h, w) after padding, and ``instances``: the file's annotations in
original-image pixels, a list of ``dict(bbox=[x1, y1, x2, y2], bbox_label=int, ignore_flag=0|1)``,
which the metrics use as ground truth.
"""
from mmengine.structures import BaseDataElement, InstanceData


class DetDataSample(BaseDataElement):
    """Ground truth, proposals and predictions of one image (see the module docstring)."""

    @property
    def gt_instances(self) -> InstanceData:
        return self._gt_instances

    @gt_instances.setter
    def gt_instances(self, value: InstanceData):
        self.set_field(value, '_gt_instances', dtype=InstanceData)

    @gt_instances.deleter
    def gt_instances(self):
        del self._gt_instances

    @property
    def proposals(self) -> InstanceData:
        return self._proposals

    @proposals.setter
    def proposals(self, value: InstanceData):
        self.set_field(value, '_proposals', dtype=InstanceData)

    @proposals.deleter
    def proposals(self):
        del self._proposals

    @property
    def pred_instances(self) -> InstanceData:
        return self._pred_instances

    @pred_instances.setter
    def pred_instances(self, value: InstanceData):
        self.set_field(value, '_pred_instances', dtype=InstanceData)

    @pred_instances.deleter
    def pred_instances(self):
        del self._pred_instances
