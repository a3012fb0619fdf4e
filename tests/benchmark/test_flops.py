"""FLOPs, GFLOP/s and the fraction of the matrix-product peak (zoo.benchmark.flops), against
hand counts."""
import pytest
import torch
import torch.nn.functional as F

from zoo.benchmark.flops import count_flops, gflops_per_second, matmul_peak, peak_fraction


def test_flop_counter_of_a_known_matmul_and_convolution():
    a, b = torch.randn(64, 32), torch.randn(32, 16)
    assert count_flops(lambda: a @ b) == 2 * 64 * 32 * 16
    # the same product under bfloat16 autocast: the same count
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert count_flops(lambda: torch.mm(a, b)) == 2 * 64 * 32 * 16
    # a 3x3 convolution, 4 -> 8 channels, on a 2 x 4 x 10 x 12 input, padding 1: every one of
    # the 2 * 8 * 10 * 12 outputs takes 4 * 3 * 3 multiply-adds
    x, w = torch.randn(2, 4, 10, 12), torch.randn(8, 4, 3, 3)
    assert count_flops(lambda: F.conv2d(x, w, padding=1)) == 2 * (2 * 8 * 10 * 12) * (4 * 3 * 3)
    # forward and backward of a product: the gradient of each input is another product
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert count_flops(lambda: (a @ b).sum().backward()) == 3 * 2 * 64 * 32 * 16
    assert count_flops(lambda: a + 1) == 0  # element-wise work is not counted


def test_gflops_arithmetic():
    assert gflops_per_second(2e9, 0.5) == 4.0
    assert peak_fraction(4.0, 50.0) == 0.08
    assert gflops_per_second(0, 1.0) == 0.0
    with pytest.raises(ValueError, match='seconds > 0'):
        gflops_per_second(1e9, 0.0)
    with pytest.raises(ValueError, match='peak must be > 0'):
        peak_fraction(1.0, 0.0)


def test_matmul_peak_reports_its_own_arithmetic():
    for dtype in (torch.float32, torch.bfloat16):
        p = matmul_peak(dtype, n=128, repeats=3, warmup=1)
        assert p['dtype'] == str(dtype)[len('torch.'):] and p['n'] == 128
        assert p['flops'] == 2 * 128 ** 3 and len(p['seconds']) == 3
        median = sorted(p['seconds'])[1]
        assert p['gflops'] == pytest.approx(2 * 128 ** 3 / median / 1e9)
        assert p['best_gflops'] == pytest.approx(2 * 128 ** 3 / min(p['seconds']) / 1e9)
        assert p['best_gflops'] >= p['gflops'] > 0
    with pytest.raises(ValueError, match='repeats >= 1'):
        matmul_peak(n=8, repeats=0)
