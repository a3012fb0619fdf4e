"""Stored region proposals: the file format, and the transform that puts them in a sample.

Fast R-CNN trains on fixed proposals computed once for the whole training set (Girshick 2015;
steps 2 and 4 of Faster R-CNN's 4-step alternating training, Ren et al. 2015 section 3.2;
py-faster-rcnn's ``rpn_generate`` writes them to a pickle). In the zoo a *proposal file* is a
torch file that loads with ``torch.load(weights_only=True)``::

    dict(meta=dict(...),                      # free-form: where the proposals come from
         proposals={img_id: dict(bboxes=float32 (K, 4),   # xyxy, ORIGINAL-image pixels
                                 scores=float32 (K,))})   # objectness, sorted descending

Boxes are in pixels of the original image file (the dataset's ``ori_shape``), so that the
training pipeline's ``Resize`` and ``RandomFlip`` move them exactly as they move the ground
truth (as mmdet's ``LoadProposals`` does, and as py-faster-rcnn flips its stored proposals for
the flipped copies of its images).
"""
from __future__ import annotations

import os
from typing import Any, Optional

import torch
from torchvision import tv_tensors

from registry import TRANSFORMS
from registry.errors import ConfigError, ZooError


class ProposalFileError(ZooError):
    """A proposal file is missing, malformed, or lacks an image of the dataset."""


def save_proposal_file(path: str, proposals: dict, meta: Optional[dict] = None) -> None:
    """Write ``proposals`` (``{img_id: dict(bboxes=(K, 4), scores=(K,))}``, original-image
    pixels) with ``meta`` to ``path`` (atomically: a temporary file, then a rename).

    Raises:
        ValueError: a record lacks ``bboxes``/``scores`` or has the wrong shapes.
    """
    clean = {}
    for img_id, rec in proposals.items():
        bboxes = torch.as_tensor(rec['bboxes'], dtype=torch.float32).detach().cpu()
        scores = torch.as_tensor(rec['scores'], dtype=torch.float32).detach().cpu()
        if bboxes.dim() != 2 or bboxes.shape[1] != 4 or scores.shape != (bboxes.shape[0],):
            raise ValueError(f'proposals of image {img_id!r}: expected bboxes (K, 4) and scores '
                             f'(K,), got {tuple(bboxes.shape)} and {tuple(scores.shape)}')
        clean[img_id] = dict(bboxes=bboxes.contiguous(), scores=scores.contiguous())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp'
    torch.save(dict(meta=dict(meta or {}), proposals=clean), tmp)
    os.replace(tmp, path)


def load_proposal_file(path: str) -> dict:
    """The ``{img_id: dict(bboxes, scores)}`` of a proposal file, loaded with
    ``weights_only=True`` (the zoo's checkpoint loader).

    Raises:
        ProposalFileError: the file does not exist or is not a proposal file (named).
        CheckpointError: the file holds pickled objects outside the allowlist.
    """
    from zoo.checkpoint import load_checkpoint_file

    if not os.path.isfile(path):
        raise ProposalFileError(f'proposal file {path!r} does not exist')
    data = load_checkpoint_file(path)
    if not isinstance(data, dict) or not isinstance(data.get('proposals'), dict):
        raise ProposalFileError(f'{path!r} is not a proposal file: expected a dict with '
                                '"proposals" = {img_id: dict(bboxes, scores)}')
    return data['proposals']


@TRANSFORMS.register_module()
class LoadProposals:
    """Add the stored proposals of the sample's image: ``results['proposals']`` (a
    ``tv_tensors.BoundingBoxes`` XYXY (K, 4) on the original image's canvas) and
    ``results['proposals_scores']`` (float32 (K,)).

    Place it before every transform that moves boxes (``Resize``, ``RandomFlip``); they move
    ``proposals`` with the image, and ``PackDetInputs`` puts them in ``data_sample.proposals``.
    The file is read once per process (per DataLoader worker), on first use.

    Args:
        proposal_file: a proposal file (see the module docstring).
        num_max_proposals: keep at most the first (best-scoring) this many per image; None
            keeps them all.

    Raises:
        ConfigError: ``num_max_proposals`` not a positive int or None.
        ProposalFileError: (when called) the file is missing or malformed, or has no proposals
            for the sample's ``img_id``.
    """

    def __init__(self, proposal_file: str, num_max_proposals: Optional[int] = None):
        if num_max_proposals is not None and (not isinstance(num_max_proposals, int)
                                              or num_max_proposals < 1):
            raise ConfigError(f'LoadProposals: `num_max_proposals` must be a positive int or '
                              f'None, got {num_max_proposals!r}')
        self.proposal_file = str(proposal_file)
        self.num_max_proposals = num_max_proposals
        self._proposals: Optional[dict] = None

    def __call__(self, results: dict) -> dict:
        if self._proposals is None:
            self._proposals = load_proposal_file(self.proposal_file)
        img_id = results['img_id']
        rec: Any = self._proposals.get(img_id)
        if rec is None:
            raise ProposalFileError(f'proposal file {self.proposal_file!r} has no proposals for '
                                    f'image {img_id!r} ({results.get("img_path")})')
        bboxes, scores = rec['bboxes'], rec['scores']
        if self.num_max_proposals is not None:
            bboxes, scores = bboxes[:self.num_max_proposals], scores[:self.num_max_proposals]
        results['proposals'] = tv_tensors.BoundingBoxes(
            bboxes.clone(), format='XYXY', canvas_size=tuple(results['ori_shape']))
        results['proposals_scores'] = scores.clone()
        return results

    def __repr__(self) -> str:
        return (f'LoadProposals(proposal_file={self.proposal_file!r}, '
                f'num_max_proposals={self.num_max_proposals})')
