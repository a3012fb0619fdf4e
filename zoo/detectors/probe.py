"""Measuring the feature maps a backbone or neck really produces, when a detector is built.

A backbone or neck declares ``out_channels`` and ``strides`` (see :mod:`registry.contracts`), and
its neighbours are checked against the declaration. A declaration can be wrong: a backbone that
declares 256 channels and produces 128 would fail at the first training step with a bare
convolution error, one that declares stride 16 and produces stride 8 would train with its anchors
and RoIs in the wrong place. So the detector runs a probe forward at build time and compares.

The probe input is a zero image of (1, 3, H, W) with ``W = H + d``, ``d = 2 * s_max`` and
``H = 2 * d``, where ``s_max`` is the largest stride declared by the backbone and the neck. The
channels of a level are its second dimension; its stride is ``d / (w - h)`` from its output size
(h, w). Taking the difference of width and height makes the measure exact for networks that pad
(``H / s``, rounded up) and for those that do not (ZF's unpadded 7x7 convolution loses a few
cells on every side, the same number on both axes).

The probe runs on PyTorch's ``meta`` device first: the part's parameters and buffers are
replaced by meta tensors (:func:`torch.func.functional_call`), so shapes are computed without
memory or arithmetic (milliseconds for ResNet-50-FPN). Where an operation has no meta kernel, it
runs for real instead, on the part's device, with the zero image (about 2 s for ResNet-50-FPN on
two CPU cores). Both run in eval mode (the training flags are restored after) and under
``no_grad``: neither draws random numbers, updates batch-norm statistics or keeps a gradient.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from registry import AssemblyError, FeatureSpec
from registry.contracts import describe


class FeatureProbe:
    """One probe input for a backbone and, optionally, the neck fed by it.

    Args:
        max_stride: the largest stride declared by the parts to be probed (pixels per cell).

    Attributes:
        d: ``2 * max_stride``: the probe image is ``d`` pixels wider than high.
        height, width: of the probe image: ``2 * d`` and ``3 * d``.
    """

    def __init__(self, max_stride: int):
        self.d = 2 * max(int(max_stride), 1)
        self.height, self.width = 2 * self.d, 3 * self.d
        self.real = False  # set once a part needed a real forward: its consumers run for real too

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.height, self.width)

    def image(self, device: Any = 'meta') -> Tensor:
        return torch.zeros(self.shape, device=device)

    # measuring --------------------------------------------------------------------------------
    def measure(self, part: nn.Module, feats: Sequence[Tensor]) -> FeatureSpec:
        """The FeatureSpec of ``feats`` (the outputs of ``part`` for the probe image).

        A level that is as wide as it is high has a stride above ``d``; it is reported as
        ``d + 1`` (so that it never equals a declared stride of at most ``d / 2``).
        """
        channels, strides = [], []
        for f in feats:
            channels.append(int(f.shape[1]))
            diff = int(f.shape[-1]) - int(f.shape[-2])
            strides.append(self.d // diff if diff > 0 and self.d % diff == 0 else
                           round(self.d / diff, 2) if diff > 0 else self.d + 1)
        return FeatureSpec(tuple(channels), tuple(strides))

    def check(self, part: nn.Module, feats: Sequence[Tensor]) -> FeatureSpec:
        """Compare what ``part`` declares with what it produced for the probe image.

        Returns:
            The measured FeatureSpec (equal to the declared one).

        Raises:
            AssemblyError: the number of levels, the channels or the strides differ; the message
                names the key path with the attribute, the declared and the measured value.
        """
        declared = FeatureSpec.of(part)
        measured = self.measure(part, feats)
        path = getattr(part, '_zoo_key_path', None) or type(part).__name__
        how = (f'measured by a probe forward of a {"x".join(map(str, self.shape))} input'
               f'{"" if self.real else " on the meta device"}')
        problems = []
        if measured.num_levels != declared.num_levels:
            problems.append(f'{path} declares {declared.num_levels} feature levels ({declared}), '
                            f'but {describe(part)} produces {measured.num_levels} '
                            f'({measured})')
        else:
            if measured.channels != declared.channels:
                problems.append(f'{path}.out_channels = {list(declared.channels)}, but '
                                f'{describe(part)} produces {list(measured.channels)} channels')
            if measured.strides != declared.strides:
                wide = [s for s in measured.strides if s == self.d + 1]
                problems.append(f'{path}.strides = {list(declared.strides)}, but '
                                f'{describe(part)} produces strides {list(measured.strides)}' +
                                (f' ({self.d + 1} stands for a stride above {self.d})'
                                 if wide else ''))
        if problems:
            raise AssemblyError('; '.join(problems) + f' ({how}). Its consumers are built for '
                                'what it declares: make the declaration say what forward returns.')
        return measured

    # running ----------------------------------------------------------------------------------
    def run(self, part: nn.Module, inputs: Any, what: str) -> Optional[tuple[Tensor, ...]]:
        """``part(inputs)`` on the meta device when ``inputs`` are meta tensors and every
        operation has a meta kernel; else ``None`` (the caller runs the chain for real).

        Args:
            what: what ``inputs`` are, for the message (``'a 1x3x128x192 image'``).

        Raises:
            AssemblyError: the real forward fails (the error of the part is kept as the cause),
                or the part returns something else than feature maps.
        """
        if not self.real:
            try:
                with torch.no_grad(), _eval_mode(part):  # eval: batch norm's meta path is fast
                    out = functional_call(part, _meta_state(part), (inputs,))
                return self._levels(part, out)
            except AssemblyError:
                raise
            except Exception:  # an operation without a meta kernel: measured for real below
                return None
        try:
            with torch.no_grad(), _eval_mode(part):
                out = part(inputs)
        except Exception as err:
            raise AssemblyError(f'{describe(part)} fails on {what}: {type(err).__name__}: '
                                f'{err}') from err
        return self._levels(part, out)

    def real_image(self, part: nn.Module) -> Tensor:
        """The probe image on the device of ``part`` (switches the probe to real forwards)."""
        self.real = True
        return self.image(_device_of(part))

    @staticmethod
    def _levels(part: nn.Module, out: Any) -> tuple[Tensor, ...]:
        if isinstance(out, Tensor):
            out = (out,)
        elif isinstance(out, dict):  # e.g. torchvision's feature extractors
            out = tuple(out.values())
        if not isinstance(out, (tuple, list)) or not out or not all(
                isinstance(f, Tensor) and f.dim() == 4 for f in out):
            raise AssemblyError(f'{describe(part)} returns {_kind(out)}; a backbone or neck '
                                'must return a tuple of (B, C, H, W) feature maps, finest first')
        return tuple(out)


def probe_features(backbone: nn.Module, neck: Optional[nn.Module], link=None) -> FeatureSpec:
    """Measure ``backbone`` (and ``neck``, fed with the backbone's features) and check each
    against its declaration; return the FeatureSpec the heads read (the neck's, if any).

    Args:
        link: called as ``link(backbone_spec)`` between the two checks (the neck's declared
            check against the backbone), so that a neck is judged on what the backbone produces.

    Raises:
        AssemblyError: see :meth:`FeatureProbe.check` and :meth:`FeatureProbe.run`.
    """
    parts = [backbone] + ([neck] if neck is not None else [])
    probe = FeatureProbe(max(s for p in parts for s in FeatureSpec.of(p).strides))
    image = f'a {_shape(probe.shape)} image'
    feats = probe.run(backbone, probe.image(), image)
    if feats is None:
        feats = probe.run(backbone, probe.real_image(backbone), image)
    spec = probe.check(backbone, feats)
    if link is not None:
        link(spec)
    if neck is None:
        return spec
    what = f'the features of {describe(backbone)} ({spec})'
    out = probe.run(neck, feats, what)
    if out is None:  # the neck needs a real forward, and so its input does
        if not probe.real:
            feats = probe.run(backbone, probe.real_image(backbone), image)
        out = probe.run(neck, feats, what)
    return probe.check(neck, out)


def _meta_state(part: nn.Module) -> dict[str, Tensor]:
    tensors = list(part.named_parameters(remove_duplicate=False)) + \
        list(part.named_buffers(remove_duplicate=False))
    return {name: torch.empty_like(t, device='meta') for name, t in tensors}


def _device_of(part: nn.Module) -> torch.device:
    for t in part.parameters():
        return t.device
    for t in part.buffers():
        return t.device
    return torch.device('cpu')


@contextlib.contextmanager
def _eval_mode(part: nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in part.modules()]
    part.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _shape(shape: Sequence[int]) -> str:
    return 'x'.join(map(str, shape))


def _kind(out: Any) -> str:
    if isinstance(out, (tuple, list)):
        inner = ', '.join(f'a tensor of shape {tuple(o.shape)}' if isinstance(o, Tensor)
                          else type(o).__name__ for o in out[:4])
        return f'a {type(out).__name__} of [{inner}]'
    return type(out).__name__
