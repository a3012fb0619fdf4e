"""Samplers: pick the priors that enter the losses of each image.

* :class:`RandomSampler`: fixed-size random mini-batches with a positive fraction.

What a sampler returns, :class:`~zoo.api.SamplingResult`, is in :mod:`zoo.api`.
"""
from .random_sampler import RandomSampler

__all__ = ['RandomSampler']
