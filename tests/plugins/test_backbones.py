"""Backbones: ZFNet against py-faster-rcnn's prototxt (hand-computed Caffe sizes, parameter count,
Caffe's LRN reference), VGG and ResNet against torchvision with the same weights, and the
pretrained-weights loader."""
from __future__ import annotations

import math

import pytest
import torch
import torchvision
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.ops import FrozenBatchNorm2d

import plugins  # noqa: F401  (registers the parts)
from plugins.backbones import VGG, CaffeLRN, ResNet, ZFNet, load_pretrained
from plugins.backbones.frozen_bn_fold import ScaledWeightConv2d
from registry import BACKBONES, build


# ZFNet ------------------------------------------------------------------------------------------

def caffe_conv(size: int, k: int, s: int, p: int) -> int:
    """Caffe ConvolutionLayer output size: floor((H + 2p - k) / s) + 1."""
    return (size + 2 * p - k) // s + 1


def caffe_pool(size: int, k: int, s: int, p: int) -> int:
    """Caffe PoolingLayer output size: ceil((H + 2p - k) / s) + 1, minus 1 if the last window
    would start in the padding."""
    out = int(math.ceil((size + 2 * p - k) / s)) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def caffe_zf_size(size: int) -> int:
    size = caffe_pool(caffe_conv(size, 7, 2, 3), 3, 2, 1)   # conv1, pool1
    return caffe_pool(caffe_conv(size, 5, 2, 2), 3, 2, 1)   # conv2, pool2 (conv3-5 keep size)


def test_zfnet_is_registered_and_declares_its_features():
    assert BACKBONES.get('ZFNet') is ZFNet
    assert ZFNet.out_channels == (256,) and ZFNet.strides == (16,)


def test_zfnet_output_sizes_are_caffes():
    # By hand, 224: conv1 floor(223/2)+1 = 112; pool1 ceil(111/2)+1 = 57; conv2 floor(56/2)+1 = 29;
    # pool2 ceil(28/2)+1 = 15. 600: 300, 151, 76, ceil(75/2)+1 = 39. 800: 400, 201, 101, 51.
    assert (caffe_zf_size(224), caffe_zf_size(600), caffe_zf_size(800)) == (15, 39, 51)
    net = ZFNet().eval()
    with torch.no_grad():
        (out,) = net(torch.randn(1, 3, 224, 224))
        assert out.shape == (1, 256, 15, 15)      # floor-mode pooling would give 14
        assert (out >= 0).all()  # after relu5
        (out,) = net(torch.randn(2, 3, 37, 70))   # odd sizes follow the same formulas
        assert out.shape == (2, 256, caffe_zf_size(37), caffe_zf_size(70))
        # 600 x 800 (py-faster-rcnn's scale) on the meta device: the same layers and shape
        # functions, without the 5 GFLOP of a real forward on the test CPU
        (out,) = net.to('meta')(torch.empty(1, 3, 600, 800, device='meta'))
        assert out.shape == (1, 256, 39, 51)


def test_zfnet_parameter_count_by_hand():
    expected = ((96 * 3 * 7 * 7 + 96) + (256 * 96 * 5 * 5 + 256) + (384 * 256 * 3 * 3 + 384)
                + (384 * 384 * 3 * 3 + 384) + (256 * 384 * 3 * 3 + 256))
    assert expected == 3_726_464
    assert sum(p.numel() for p in ZFNet().parameters()) == expected


def test_zfnet_layers_follow_the_prototxt():
    net = ZFNet()
    specs = {'conv1': (3, 96, 7, 2, 3), 'conv2': (96, 256, 5, 2, 2), 'conv3': (256, 384, 3, 1, 1),
             'conv4': (384, 384, 3, 1, 1), 'conv5': (384, 256, 3, 1, 1)}
    for name, (cin, cout, k, s, p) in specs.items():
        conv = getattr(net, name)
        assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding) == \
            (cin, cout, (k, k), (s, s), (p, p)), name
    for pool in (net.pool1, net.pool2):
        assert (pool.kernel_size, pool.stride, pool.padding, pool.ceil_mode) == (3, 2, 1, True)
    for norm in (net.norm1, net.norm2):
        assert (norm.local_size, norm.alpha, norm.beta, norm.norm_region) == \
            (3, 5e-5, 0.75, 'within_channel')


def caffe_reference_lrn(x: torch.Tensor, size: int, alpha: float, beta: float, region: str):
    """Port of Caffe's ReferenceLRNForward (src/caffe/test/test_lrn_layer.cpp), k = 1."""
    n_, c_, h_, w_ = x.shape
    out = torch.empty_like(x)
    half = (size - 1) // 2
    for n in range(n_):
        for c in range(c_):
            for h in range(h_):
                for w in range(w_):
                    scale = 1.0
                    if region == 'across_channels':
                        for i in range(max(c - half, 0), min(c - half + size, c_)):
                            scale += float(x[n, i, h, w]) ** 2 * alpha / size
                    else:
                        for nh in range(max(h - half, 0), min(h - half + size, h_)):
                            for nw in range(max(w - half, 0), min(w - half + size, w_)):
                                scale += float(x[n, c, nh, nw]) ** 2 * alpha / (size * size)
                    out[n, c, h, w] = float(x[n, c, h, w]) / scale ** beta
    return out


@pytest.mark.parametrize('region', ['within_channel', 'across_channels'])
def test_caffe_lrn_matches_caffes_reference(region):
    torch.manual_seed(0)
    x = torch.randn(1, 4, 5, 6, dtype=torch.float64) * 3
    alpha, beta = 0.5, 0.75  # large alpha so that the normalization is far from the identity
    ours = CaffeLRN(3, alpha, beta, norm_region=region)(x)
    ref = caffe_reference_lrn(x, 3, alpha, beta, region)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert not torch.allclose(ours, x, atol=1e-2)
    if region == 'across_channels':  # Caffe's ACROSS_CHANNELS is torch's LocalResponseNorm
        torch.testing.assert_close(nn.LocalResponseNorm(3, alpha, beta, k=1.0)(x), ref)


def test_caffe_lrn_rejects_bad_arguments():
    with pytest.raises(ValueError, match='local_size'):
        CaffeLRN(4, 1e-4, 0.75)
    with pytest.raises(ValueError, match='norm_region'):
        CaffeLRN(3, 1e-4, 0.75, norm_region='spatial')


def test_zfnet_frozen_stages():
    net = ZFNet(frozen_stages=2)
    assert not any(p.requires_grad for m in (net.conv1, net.conv2) for p in m.parameters())
    assert all(p.requires_grad for m in (net.conv3, net.conv4, net.conv5) for p in m.parameters())
    assert all(p.requires_grad for p in ZFNet().parameters())
    with pytest.raises(ValueError, match='frozen_stages'):
        ZFNet(frozen_stages=6)


def test_zfnet_pretrained_round_trip(tmp_path):
    torch.manual_seed(1)
    src = ZFNet().eval()
    state = dict(src.state_dict(), **{'fc6.weight': torch.zeros(2, 3)})  # extra key: ignored
    torch.save(state, tmp_path / 'zf.pth')
    torch.manual_seed(2)
    dst = ZFNet(pretrained=str(tmp_path / 'zf.pth')).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(src(x)[0], dst(x)[0])
    assert load_pretrained(ZFNet(), tmp_path / 'zf.pth') == ['fc6.weight']


def test_zfnet_rejects_bad_input():
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        ZFNet()(torch.randn(1, 1, 32, 32))


# VGG --------------------------------------------------------------------------------------------

def test_vgg16_matches_torchvision_features_with_its_weights(tmp_path):
    with torch.device('meta'):  # torchvision's vgg16, but no 120M-parameter classifier in memory
        tv = torchvision.models.vgg16(init_weights=False).eval()
    tv.features.to_empty(device='cpu')
    torch.manual_seed(0)
    for m in tv.features:
        if isinstance(m, nn.Conv2d):  # seeded random weights and biases (biases non-zero)
            nn.init.normal_(m.weight, std=math.sqrt(2.0 / (m.in_channels * 9)))
            nn.init.normal_(m.bias, std=0.1)
    # torchvision's file layout: features.N.* plus classifier.* (here only classifier.6, to keep
    # the file small: classifier.0 alone is 400 MB)
    state = dict(tv.features.state_dict(prefix='features.'))
    state.update({f'classifier.6.{k}': torch.zeros(v.shape)
                  for k, v in tv.classifier[6].state_dict().items()})
    torch.save(state, tmp_path / 'vgg16.pth')
    ours = VGG(depth=16, pretrained=str(tmp_path / 'vgg16.pth')).eval()
    assert list(ours.state_dict()) == [k for k in state if k.startswith('features.')]
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        (out,) = ours(x)
        expected = tv.features[:30](x)
    assert out.shape == (2, 512, 4, 6)
    assert torch.equal(out, expected)
    assert ours.out_channels == (512,) and ours.strides == (16,)


def test_vgg16_freezes_conv1_and_conv2_by_default():
    net = VGG()
    frozen = {name for name, p in net.named_parameters() if not p.requires_grad}
    # conv1_1, conv1_2, conv2_1, conv2_2 are features.0, 2, 5, 7
    assert frozen == {f'features.{i}.{w}' for i in (0, 2, 5, 7) for w in ('weight', 'bias')}
    assert all(p.requires_grad for p in VGG(frozen_stages=-1).parameters())


def test_vgg_other_depths():
    for depth, convs in ((11, 8), (13, 10), (19, 16)):
        with torch.device('meta'):
            net = VGG(depth=depth, frozen_stages=0)
        assert sum(isinstance(m, nn.Conv2d) for m in net.features) == convs
        assert isinstance(net.features[-1], nn.ReLU)
    with pytest.raises(ValueError, match='depth'):
        VGG(depth=17)


# ResNet -----------------------------------------------------------------------------------------

def randomize_frozen_bn(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, FrozenBatchNorm2d):
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)


def test_resnet50_matches_torchvision_intermediate_layer_getter(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    randomize_frozen_bn(tv)
    torch.save(tv.state_dict(), tmp_path / 'resnet50.pth')  # torchvision's layout, fc included
    ours = ResNet(depth=50, pretrained=str(tmp_path / 'resnet50.pth')).eval()
    plain = ResNet(depth=50, pretrained=str(tmp_path / 'resnet50.pth'), fold_frozen_bn=False).eval()
    body = IntermediateLayerGetter(tv, {'layer1': '0', 'layer2': '1', 'layer3': '2', 'layer4': '3'})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outs, unfolded = ours(x), plain(x)
        expected = list(body(x).values())
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4),
                                               (1, 2048, 2, 2)]
    for o, u, e in zip(outs, unfolded, expected):
        assert torch.equal(u, e)  # torchvision's very operations
        # frozen BN folded into the convolutions: the same numbers up to rounding
        assert torch.allclose(o, e, rtol=1e-4, atol=1e-5 * float(e.abs().max()))
    assert ours.out_channels == (256, 512, 1024, 2048) and ours.strides == (4, 8, 16, 32)
    # the state dict is torchvision's without fc
    assert set(ours.state_dict()) == {k for k in tv.state_dict() if not k.startswith('fc.')}


def test_folded_frozen_bn_trains_like_the_unfolded_network():
    torch.manual_seed(0)
    ours = ResNet(depth=18, frozen_stages=1)
    randomize_frozen_bn(ours)
    plain = ResNet(depth=18, frozen_stages=1, fold_frozen_bn=False)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 64, 64)
    for net in (ours, plain):
        sum(o.square().mean() for o in net(x)).backward()
    for (name, p), q in zip(ours.named_parameters(), plain.parameters()):
        assert (p.grad is None) == (q.grad is None) == (not p.requires_grad), name
        if p.grad is not None:  # the weight's own gradient, through the folded scaling
            assert torch.allclose(p.grad, q.grad, rtol=1e-3, atol=1e-6), name
    # inference reuses the folded weights until a weight changes in place or a BN buffer does
    ours.eval()
    with torch.no_grad():
        before = ours(x)[-1]
        ours.layer4[0].conv1.weight.mul_(2)
        ours.layer1[0].bn1.running_var.add_(1.0)
        plain.layer4[0].conv1.weight.mul_(2)
        plain.layer1[0].bn1.running_var.add_(1.0)
        after, expected = ours(x)[-1], plain.eval()(x)[-1]
    assert not torch.allclose(before, after)
    assert torch.allclose(after, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    assert set(ours.state_dict()) == set(plain.state_dict())


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('amp', [False, True])
@pytest.mark.parametrize('groups,stride', [(1, 1), (2, 2)])
def test_scaled_weight_conv_equals_autograd_through_the_folded_weight(channels_last, amp, groups,
                                                                     stride):
    """Bit for bit: output and every gradient (input, weight, scale, bias), in float32 and
    under CPU autocast (bfloat16), as autograd through ``conv2d(x, w * s, b)``."""
    torch.manual_seed(0)
    x, w = torch.randn(2, 8, 17, 19), torch.randn(6, 8 // groups, 3, 3)
    if channels_last:
        x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    s, b = torch.rand(6) + 0.5, torch.randn(6)
    results = []
    for fused in (False, True):
        xs, ws, ss, bs = (t.clone().requires_grad_() for t in (x, w, s, b))
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
            if fused:
                y = ScaledWeightConv2d.apply(xs, ws, ss, bs, (stride, stride), (1, 1), (1, 1),
                                             groups, torch.bfloat16 if amp else None)
            else:
                y = F.conv2d(xs, ws * ss.reshape(-1, 1, 1, 1), bs, stride, 1, 1, groups)
        torch.manual_seed(1)
        y.backward(torch.randn(y.shape).to(y.dtype))
        results.append((y, xs.grad, ws.grad, ss.grad, bs.grad))
    assert results[1][0].dtype == (torch.bfloat16 if amp else torch.float32)
    for name, a, e in zip(('output', 'x', 'weight', 'scale', 'bias'), results[1], results[0]):
        assert a.dtype == e.dtype and torch.equal(a, e), name


def saved_bytes(net: nn.Module, x: Tensor) -> tuple[int, tuple]:
    """Bytes of the tensors autograd keeps for backward during ``net(x)``, counting each
    storage once and leaving out the network's own parameters and buffers (kept anyway)."""
    own = {t.untyped_storage().data_ptr() for t in [*net.parameters(), *net.buffers()]}
    seen = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in own:
            seen[ptr] = t.untyped_storage().nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(x)
    return sum(seen.values()), out


def test_folded_training_keeps_no_more_for_backward_than_the_unfolded_network():
    """The folded weights are recomputed in backward, not kept: beyond the parameters, autograd
    saves what the unfolded network saves (activations, per-channel scales), not that plus
    a folded copy of every trainable weight (about as many bytes as the weights)."""
    torch.manual_seed(0)
    ours = ResNet(depth=18, frozen_stages=1)
    plain = ResNet(depth=18, frozen_stages=1, fold_frozen_bn=False)
    plain.load_state_dict(ours.state_dict())
    x = torch.randn(1, 3, 32, 32)
    trainable = sum(p.numel() * p.element_size() for p in ours.parameters() if p.requires_grad)
    folded, outs = saved_bytes(ours, x)
    unfolded, _ = saved_bytes(plain, x)
    assert unfolded < trainable / 10  # (small images: the weights would dominate)
    assert folded <= unfolded + trainable / 100, (folded, unfolded, trainable)
    sum(o.sum() for o in outs).backward()  # and the recomputation gives the gradients
    assert all(p.grad is not None for p in ours.parameters() if p.requires_grad)


def test_resnet50_frozen_stages_match_torchvision_trainable_layers_3():
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    with torch.device('meta'):  # parameter names and flags only
        tv = _resnet_fpn_extractor(torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d), 3)
        ours = ResNet(depth=50)
    tv_trainable = {n[len('body.'):] for n, p in tv.named_parameters()
                    if p.requires_grad and n.startswith('body.')}
    assert {n for n, p in ours.named_parameters() if p.requires_grad} == tv_trainable
    assert not any(p.requires_grad for p in ours.layer1.parameters())


def test_resnet_bn_option_out_indices_and_norm_eval():
    net = ResNet(depth=18, norm='bn', frozen_stages=-1, out_indices=(1, 3)).train()
    assert net.out_channels == (128, 512) and net.strides == (8, 32)
    assert all(not m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))
    assert all(p.requires_grad for p in net.parameters())
    outs = net(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 8, 8), (1, 512, 2, 2)]
    with torch.device('meta'):
        small = ResNet(depth=18, frozen_stages=4)
        big = ResNet(depth=101, frozen_stages=0)
    assert small.out_channels == (64, 128, 256, 512)
    assert big.out_channels == (256, 512, 1024, 2048) and len(big.layer3) == 23
    assert not any(p.requires_grad for p in big.conv1.parameters()) and \
        all(p.requires_grad for p in big.layer1.parameters())
    assert not any(p.requires_grad for p in small.parameters())


@pytest.mark.parametrize('kwargs, word', [(dict(depth=42), 'depth'), (dict(norm='gn'), 'norm'),
                                          (dict(frozen_stages=5), 'frozen_stages'),
                                          (dict(out_indices=(2, 1)), 'out_indices'),
                                          (dict(out_indices=(4,)), 'out_indices')])
def test_resnet_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ResNet(**kwargs)


# pretrained loader ------------------------------------------------------------------------------

def test_missing_pretrained_file_names_path_and_config_key(tmp_path):
    path = str(tmp_path / 'nope.pth')
    with pytest.raises(FileNotFoundError) as err:
        build('backbone', dict(type='ZFNet', pretrained=path), key='model.backbone')
    assert 'model.backbone.pretrained' in str(err.value) and path in str(err.value)


def test_pretrained_file_that_is_not_a_state_dict(tmp_path):
    (tmp_path / 'text.pth').write_text('not a checkpoint')
    with pytest.raises(ValueError, match='not a PyTorch state-dict file'):
        ZFNet(pretrained=str(tmp_path / 'text.pth'))
    torch.save([torch.zeros(1)], tmp_path / 'list.pth')
    with pytest.raises(ValueError, match='not a state dict'):
        ZFNet(pretrained=str(tmp_path / 'list.pth'))
    torch.save({'conv1.weight': 1.0}, tmp_path / 'floats.pth')
    with pytest.raises(ValueError, match='conv1.weight'):
        ZFNet(pretrained=str(tmp_path / 'floats.pth'))
    torch.save({'net': nn.Linear(1, 1)}, tmp_path / 'pickle.pth')  # a module: refused by weights_only
    with pytest.raises(ValueError, match='weights_only=True'):
        ZFNet(pretrained=str(tmp_path / 'pickle.pth'))


def test_pretrained_lists_missing_and_mismatched_keys(tmp_path):
    state = ZFNet().state_dict()
    del state['conv5.weight'], state['conv5.bias']
    state['conv1.weight'] = torch.zeros(96, 3, 5, 5)
    torch.save(state, tmp_path / 'bad.pth')
    with pytest.raises(ValueError) as err:
        ZFNet(pretrained=str(tmp_path / 'bad.pth'))
    message = str(err.value)
    assert 'conv5.weight' in message and 'conv5.bias' in message and 'missing' in message
    assert 'conv1.weight: (96, 3, 5, 5) in the file vs. (96, 3, 7, 7) expected' in message


def test_pretrained_accepts_checkpoint_containers_and_ddp_prefix(tmp_path):
    torch.manual_seed(3)
    src = ZFNet()
    wrapped = {'meta': {'epoch': 3}, 'state_dict': {f'module.{k}': v for k, v in src.state_dict().items()}}
    torch.save(wrapped, tmp_path / 'ckpt.pth')
    torch.save({'model': src.state_dict()}, tmp_path / 'model.pth')
    for name in ('ckpt.pth', 'model.pth'):
        dst = ZFNet(pretrained=str(tmp_path / name))
        assert torch.equal(dst.conv3.weight, src.conv3.weight)
