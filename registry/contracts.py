"""Assembly checks: how parts declare what they produce and consume, and the neighbour check.

A part that produces feature maps (backbone, neck) has the attributes ``out_channels`` (one int
per level) and ``strides`` (one int per level, pixels of the input tensor per feature cell),
as the part contracts say (docs/parts.md). A part that consumes them implements
``consumes(self) -> list[Requires]``, one :class:`Requires` per config key that must agree with
its producer. :func:`check_link` compares the two before anything runs and raises
:class:`~registry.errors.AssemblyError` naming both key paths, the value held and what the
producer produces.

The key paths come from :func:`registry.build`, which stamps every part it builds with
``_zoo_key_path`` and ``_zoo_type``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .errors import AssemblyError

RULES = ('equal', 'each', 'subset', 'count')


@dataclass(frozen=True)
class FeatureSpec:
    """The feature maps a part produces: per level, channels and stride (input pixels per cell)."""

    channels: tuple[int, ...]
    strides: tuple[int, ...]

    def __post_init__(self):
        if len(self.channels) != len(self.strides):
            raise ValueError(f'FeatureSpec: {len(self.channels)} channel counts for '
                             f'{len(self.strides)} strides')

    @property
    def num_levels(self) -> int:
        return len(self.strides)

    @classmethod
    def of(cls, part: Any) -> 'FeatureSpec':
        """Read ``out_channels`` and ``strides`` of a producing part (ints become 1-tuples).

        Raises:
            AssemblyError: the part does not declare them.
        """
        missing = [a for a in ('out_channels', 'strides') if not hasattr(part, a)]
        if missing:
            raise AssemblyError(f'{describe(part)} does not declare {" and ".join(missing)}; '
                                'a backbone or neck must, so that its neighbours can be checked')
        ch, st = part.out_channels, part.strides
        st = (st,) if isinstance(st, int) else tuple(st)
        ch = (ch,) * len(st) if isinstance(ch, int) else tuple(ch)
        return cls(tuple(int(c) for c in ch), tuple(int(s) for s in st))

    def __str__(self) -> str:
        return f'channels {list(self.channels)} at strides {list(self.strides)}'


@dataclass(frozen=True)
class Requires:
    """One agreement a consuming part needs from its producer.

    Attributes:
        key: the consumer's config key that holds ``value`` (e.g. ``'in_channels'``).
        value: what the consumer was built with.
        feature: ``'channels'``, ``'strides'`` or ``'num_levels'`` of the producer's FeatureSpec.
        rule: ``'equal'``: ``value`` equals the produced sequence; ``'each'``: every produced
            value equals the int ``value``; ``'subset'``: every element of ``value`` is produced;
            ``'count'``: ``len(value)`` (or ``value`` itself, if an int) equals the number of levels.
    """

    key: str
    value: Any
    feature: str
    rule: str = 'equal'

    def __post_init__(self):
        if self.rule not in RULES:
            raise ValueError(f'Requires.rule must be one of {RULES}, got {self.rule!r}')

    def holds(self, spec: FeatureSpec) -> bool:
        produced = spec.num_levels if self.feature == 'num_levels' else getattr(spec, self.feature)
        if self.rule == 'equal':
            value = tuple(self.value) if isinstance(self.value, Sequence) else self.value
            return value == produced
        if self.rule == 'each':
            return all(p == self.value for p in produced)
        if self.rule == 'subset':
            value = (self.value,) if isinstance(self.value, int) else self.value
            return all(v in produced for v in value)
        count = self.value if isinstance(self.value, int) else len(self.value)
        return count == spec.num_levels


def describe(part: Any) -> str:
    """``model.neck (FPN)``: the key path and type of a built part, for messages."""
    path = getattr(part, '_zoo_key_path', None)
    kind = getattr(part, '_zoo_type', type(part).__name__)
    return f'{path} ({kind})' if path else kind


def check_link(producer: Any, consumer: Any, spec: FeatureSpec | None = None) -> None:
    """Check every :class:`Requires` of ``consumer`` against what ``producer`` produces.

    Args:
        producer: a part with ``out_channels``/``strides`` (or pass ``spec`` directly).
        consumer: a part with ``consumes()``; a part without it has nothing to check.
        spec: the producer's FeatureSpec, if already known.

    Raises:
        AssemblyError: naming the consumer's key path, the value it holds, the producer's key
            path and what it produces, e.g. ``model.rpn_head.in_channels = 256, but model.backbone
            (VGG) produces 512 channels at each level (channels [512] at strides [16])``.
    """
    if not hasattr(consumer, 'consumes'):
        return
    spec = spec or FeatureSpec.of(producer)
    problems = []
    for req in consumer.consumes():
        if req.holds(spec):
            continue
        produced = {
            'channels': f'channels {list(spec.channels)}',
            'strides': f'strides {list(spec.strides)}',
            'num_levels': f'{spec.num_levels} feature levels (strides {list(spec.strides)})',
        }[req.feature]
        expected = {
            'equal': '', 'each': ' (the same at every level)',
            'subset': ' (each must be among them)', 'count': ' (one per level)',
        }[req.rule]
        path = getattr(consumer, '_zoo_key_path', None) or type(consumer).__name__
        problems.append(f'{path}.{req.key} = {req.value!r}, but {describe(producer)} produces '
                        f'{produced}{expected}')
    if problems:
        raise AssemblyError('; '.join(problems) + f'. {describe(producer)} produces {spec}.')
