"""LRN: both regions against torch / numpy transcriptions of Caffe's formulas / OpenCV dnn,
gradient checks, bad parameters."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer
from caffeine.testing.opencv_reference import opencv_forward

RNG = np.random.default_rng(2024)


def f32(*values):
    """lrn_param's alpha, beta and k are proto floats: the oracles get the same rounding."""
    return [float(np.float32(v)) for v in values]


def lrn_text(size=5, alpha=1.0, beta=0.75, k=1.0, region="ACROSS_CHANNELS"):
    return (f'type: "LRN" lrn_param {{ local_size: {size} alpha: {alpha} beta: {beta} k: {k} '
            f'norm_region: {region} }}')


def caffe_across(x, size, alpha, beta, k):
    """CrossChannelForward_cpu: scale = k + alpha/size * sum of squares over the channel window."""
    n, c, h, w = x.shape
    pre = (size - 1) // 2
    padded = np.zeros((n, c + size - 1, h, w))
    padded[:, pre:pre + c] = x ** 2
    scale = k + alpha / size * sum(padded[:, i:i + c] for i in range(size))
    return x * scale ** -beta


def caffe_within(x, size, alpha, beta):
    """WITHIN_CHANNEL as Caffe wires it: square -> AVE pooling (kernel size, pad (size-1)/2,
    stride 1; Caffe's divisor loop) -> power(shift 1, scale alpha, power -beta) -> product."""
    n, c, h, w = x.shape
    pad = (size - 1) // 2
    sq = x ** 2
    pooled = np.zeros_like(x)
    for a in range(h):  # the pooled size is h x w here (stride 1, pad (size-1)/2)
        for b in range(w):
            hstart, wstart = a - pad, b - pad
            hend, wend = min(hstart + size, h + pad), min(wstart + size, w + pad)
            pool_size = (hend - hstart) * (wend - wstart)
            hstart, wstart, hend, wend = max(hstart, 0), max(wstart, 0), min(hend, h), min(wend, w)
            pooled[:, :, a, b] = sq[:, :, hstart:hend, wstart:wend].sum(axis=(2, 3)) / pool_size
    return x * (1.0 + alpha * pooled) ** -beta


@pytest.mark.parametrize("size", [1, 3, 5, 13])
@pytest.mark.parametrize("alpha,beta,k", [(1e-4, 0.75, 1.0), (0.5, 0.6, 2.0)])
def test_across_matches_torch(size, alpha, beta, k):
    x = RNG.standard_normal((2, 15, 4, 5)) * 3
    text = lrn_text(size, alpha, beta, k)
    alpha, beta, k = f32(alpha, beta, k)
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.local_response_norm(xt, size, alpha, beta, k)  # torch also divides alpha by size
    dy = RNG.standard_normal(x.shape)
    yt.backward(torch.from_numpy(dy))
    layer, bottom, top = run_layer(text, [x])
    assert top[0].shape == x.shape
    np.testing.assert_allclose(top[0].data, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(top[0].data, caffe_across(x, size, alpha, beta, k), rtol=1e-12)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_across_float32():
    x = (RNG.standard_normal((2, 96, 6, 6)) * 10).astype(np.float32)
    _, _, top = run_layer(lrn_text(5, 1e-4, 0.75), [x], dtype=np.float32)
    assert top[0].dtype == np.float32
    np.testing.assert_allclose(top[0].data, caffe_across(x.astype(np.float64), 5, 1e-4, 0.75, 1.0), rtol=1e-6)


@pytest.mark.parametrize("size", [1, 3, 5])
@pytest.mark.parametrize("alpha,beta", [(5e-5, 0.75), (0.8, 0.5)])
def test_within_matches_caffe_transcription(size, alpha, beta):
    x = RNG.standard_normal((2, 3, 6, 4)) * 2
    _, _, top = run_layer(lrn_text(size, alpha, beta, region="WITHIN_CHANNEL"), [x])
    assert top[0].shape == x.shape
    np.testing.assert_allclose(top[0].data, caffe_within(x, size, *f32(alpha, beta)), rtol=1e-12)


def test_within_ignores_k_like_caffe():
    x = RNG.standard_normal((1, 2, 5, 5))
    outs = [run_layer(lrn_text(3, 0.5, 0.75, k, "WITHIN_CHANNEL"), [x])[2][0].data for k in (1.0, 3.0)]
    np.testing.assert_array_equal(outs[0], outs[1])


def test_within_window_larger_than_image():
    x = RNG.standard_normal((1, 2, 2, 3))
    _, _, top = run_layer(lrn_text(7, 0.9, 0.75, region="WITHIN_CHANNEL"), [x])
    np.testing.assert_allclose(top[0].data, caffe_within(x, 7, *f32(0.9, 0.75)), rtol=1e-12)


# ---- OpenCV dnn (its Caffe importer ignores lrn_param.k, so k = 1 here) ----------------------
@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
@pytest.mark.parametrize("size,alpha,beta", [(3, 0.3, 0.75), (5, 1e-4, 0.75), (5, 2.0, 0.5)])
def test_matches_opencv_dnn(tmp_path, region, size, alpha, beta):
    x = (RNG.standard_normal((2, 7, 6, 5)) * 3).astype(np.float32)
    text = lrn_text(size, alpha, beta, 1.0, region)
    ref = opencv_forward(tmp_path, text, x)
    _, _, top = run_layer(text, [x], dtype=np.float32)
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-5, atol=1e-6)


# ---- gradient checks (float64) -------------------------------------------------------------
@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
@pytest.mark.parametrize("size,alpha,beta,k", [(5, 0.7, 0.75, 2.0), (3, 1.5, 0.5, 1.0), (1, 0.4, 0.9, 1.0)])
def test_gradient(region, size, alpha, beta, k):
    layer = make_layer(lrn_text(size, alpha, beta, k, region))
    x = RNG.standard_normal((2, 7, 3, 4))
    check_gradient(layer, blobs_from(x), empty_tops(1), stepsize=1e-6, threshold=1e-6)


def test_gradient_long_channel_window():
    """local_size above the direct-sum limit: the window sums use a cumulative sum."""
    layer = make_layer(lrn_text(13, 0.8, 0.75, 1.0))
    check_gradient(layer, blobs_from(RNG.standard_normal((1, 16, 2, 3))), empty_tops(1), threshold=1e-6)


def test_propagate_down_false_leaves_diff():
    layer, bottom, top = run_layer(lrn_text(3), [RNG.standard_normal((1, 4, 2, 2))])
    bottom[0].diff[...] = 5.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 5.0)


def test_reshape_between_forwards():
    layer = make_layer(lrn_text(3, 0.5, 0.75, region="WITHIN_CHANNEL"))
    for i, shape in enumerate([(2, 3, 4, 4), (1, 3, 6, 5)]):
        x = RNG.standard_normal(shape)
        bottom, top = blobs_from(x), empty_tops(1)
        if i == 0:
            layer.layer_setup(bottom, top)
        layer.forward(bottom, top)
        np.testing.assert_allclose(top[0].data, caffe_within(x, 3, 0.5, 0.75), rtol=1e-12)


# ---- bad parameters ------------------------------------------------------------------------
@pytest.mark.parametrize("size", [2, 4, 0])
def test_even_local_size_rejected(size):
    with pytest.raises(ConfigError, match="odd values for local_size"):
        run_layer(lrn_text(size), [RNG.standard_normal((1, 4, 3, 3))])


def test_non_4d_input_rejected():
    with pytest.raises(ConfigError, match="4 axes"):
        run_layer(lrn_text(3), [RNG.standard_normal((2, 4, 3))])
