"""Measuring the zoo against torchvision: paired models with the same weights, the agreement
check that comes before any timing, interleaved timing and peak memory
(``benchmarks/vs_torchvision.py``)."""
