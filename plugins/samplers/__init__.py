"""Samplers: pick the priors that enter the losses of each image.

* :class:`RandomSampler`: fixed-size random mini-batches with a positive fraction.
* :class:`SamplingResult`: what a sampler returns.
"""
from .random_sampler import RandomSampler
from .sampling_result import SamplingResult

__all__ = ['RandomSampler', 'SamplingResult']
