"""Pooling: shapes (Caffe's ceil rule), forward/backward vs torch, vs a loop-by-loop numpy
transcription of Caffe's PoolingLayer (where torch's shapes differ), vs OpenCV dnn, gradient
checks, the MAX mask top, STOCHASTIC pooling, and bad parameters."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine import backend
from caffeine.errors import ConfigError
from caffeine.layers import pooling_ops
from caffeine.proto import caffe_pb2
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer
from caffeine.testing.opencv_reference import opencv_forward

RNG = np.random.default_rng(1234)
FLT_MAX = float(np.finfo(np.float32).max)


def pool_text(pool, k, s=1, p=0, extra=""):
    kh, kw = (k, k) if np.isscalar(k) else k
    sh, sw = (s, s) if np.isscalar(s) else s
    ph, pw = (p, p) if np.isscalar(p) else p
    return (f'type: "Pooling" pooling_param {{ pool: {pool} kernel_h: {kh} kernel_w: {kw} '
            f'stride_h: {sh} stride_w: {sw} pad_h: {ph} pad_w: {pw} {extra} }}')


# ---- Caffe's PoolingLayer, transcribed loop by loop (pooling_layer.cpp) ---------------------
def caffe_out_size(h, w, kh, kw, sh, sw, ph, pw):
    oh = int(math.ceil((h + 2 * ph - kh) / sh)) + 1
    ow = int(math.ceil((w + 2 * pw - kw) / sw)) + 1
    if ph or pw:
        if (oh - 1) * sh >= h + ph:
            oh -= 1
        if (ow - 1) * sw >= w + pw:
            ow -= 1
    return oh, ow


def caffe_pool(x, pool, kh, kw, sh, sw, ph, pw, dy=None):
    """Returns (top, mask, bottom_diff) exactly as Caffe's Forward_cpu / Backward_cpu."""
    n, c, h, w = x.shape
    oh, ow = caffe_out_size(h, w, kh, kw, sh, sw, ph, pw)
    top = np.zeros((n, c, oh, ow))
    mask = np.full((n, c, oh, ow), -1.0)
    dx = np.zeros_like(x)
    for i in range(n):
        for j in range(c):
            for a in range(oh):
                for b in range(ow):
                    hstart, wstart = a * sh - ph, b * sw - pw
                    if pool == "MAX":
                        hend, wend = min(hstart + kh, h), min(wstart + kw, w)
                        hstart, wstart = max(hstart, 0), max(wstart, 0)
                        best, idx = -FLT_MAX, -1
                        for y in range(hstart, hend):
                            for z in range(wstart, wend):
                                if x[i, j, y, z] > best:
                                    best, idx = x[i, j, y, z], y * w + z
                        top[i, j, a, b], mask[i, j, a, b] = best, idx
                        if dy is not None and idx >= 0:
                            dx[i, j, idx // w, idx % w] += dy[i, j, a, b]
                    else:
                        hend, wend = min(hstart + kh, h + ph), min(wstart + kw, w + pw)
                        pool_size = (hend - hstart) * (wend - wstart)
                        hstart, wstart = max(hstart, 0), max(wstart, 0)
                        hend, wend = min(hend, h), min(wend, w)
                        total = 0.0
                        for y in range(hstart, hend):
                            for z in range(wstart, wend):
                                total += x[i, j, y, z]
                                if dy is not None:
                                    dx[i, j, y, z] += dy[i, j, a, b] / pool_size
                        top[i, j, a, b] = total / pool_size
    return top, mask, dx


def run_pool(text, x, dy=None, n_top=1, dtype=np.float64, phase=None):
    layer, bottom, top = run_layer(text, [x], n_top=n_top, dtype=dtype, phase=phase)
    if dy is not None:
        top[0].diff[...] = dy
        layer.backward(top, [True], bottom)
    return layer, bottom, top


# geometry cases: (H, W, kernel, stride, pad); includes Caffe's ceil-extended last window,
# the "last window must start inside image+pad" clip, non-square and overlapping windows
GEOMETRIES = [
    ((6, 6), 3, 2, 1), ((7, 5), 3, 2, 0), ((8, 8), 2, 2, 0), ((9, 9), 3, 3, 1),
    ((5, 7), 2, 1, 1), ((13, 13), 3, 2, 0), ((6, 6), 4, 3, 2), ((7, 9), (3, 2), (2, 3), (1, 0)),
    ((10, 10), (2, 4), (1, 3), (1, 2)), ((4, 5), 5, 2, 2), ((3, 3), 3, 1, 0),
    ((11, 13), 4, 4, 1), ((12, 10), (5, 4), (5, 4), (2, 0)), ((2, 5), 3, 2, 0), ((8, 9), 2, 3, 1),
]


@pytest.mark.parametrize("hw,k,s,p", GEOMETRIES)
def test_output_shape_follows_caffe(hw, k, s, p):
    kh, kw = (k, k) if np.isscalar(k) else k
    sh, sw = (s, s) if np.isscalar(s) else s
    ph, pw = (p, p) if np.isscalar(p) else p
    x = RNG.standard_normal((2, 3) + hw)
    _, _, top = run_pool(pool_text("MAX", k, s, p), x)
    assert top[0].shape == (2, 3) + caffe_out_size(*hw, kh, kw, sh, sw, ph, pw)


def test_ceil_shape_examples():
    # Caffe rounds up: 32 -> 16 with 3x3/2 (CIFAR10), 55 -> 27 (CaffeNet), 24 -> 12 (LeNet)
    for h, k, s, out in [(32, 3, 2, 16), (55, 3, 2, 27), (24, 2, 2, 12), (13, 3, 2, 6), (7, 2, 2, 4)]:
        _, _, top = run_pool(pool_text("MAX", k, s), RNG.standard_normal((1, 1, h, h)))
        assert top[0].shape == (1, 1, out, out)


@pytest.mark.parametrize("text,hw,layout", [
    ('pool: MAX global_pooling: true', (5, 4), "global"),
    ('pool: AVE kernel_size: 2 stride: 2', (6, 6), "views"),
    ('pool: MAX kernel_size: 3 stride: 2', (7, 7), "grid"),
    ('pool: AVE kernel_size: 3 stride: 1 pad: 1', (7, 7), "grid"),
    ('pool: MAX kernel_size: 4 stride: 4 pad: 1', (9, 9), "blocks"),
    ('pool: STOCHASTIC kernel_size: 3 stride: 2', (7, 7), "views"),
])
def test_layouts_are_exercised(text, hw, layout):
    """Each array layout (see pooling_ops) is picked for the geometry it is meant for."""
    layer, _, _ = run_pool(f'type: "Pooling" pooling_param {{ {text} }}', RNG.random((1, 2) + hw))
    assert layer.pooler.layout == layout


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), (4, 4)])
def test_floor_round_mode_matches_torch(pool, k, s):
    x = RNG.standard_normal((2, 3, 11, 10))
    xt = torch.from_numpy(x).requires_grad_()
    yt = F.max_pool2d(xt, k, s) if pool == "MAX" else F.avg_pool2d(xt, k, s)
    dy = RNG.standard_normal(yt.shape)
    yt.backward(torch.from_numpy(dy))
    _, bottom, top = run_pool(pool_text(pool, k, s, extra="round_mode: FLOOR"), x, dy)
    np.testing.assert_allclose(top[0].data, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=1e-12)


def test_floor_round_mode():
    _, _, top = run_pool(pool_text("MAX", 2, 2, extra="round_mode: FLOOR"), RNG.standard_normal((1, 2, 7, 7)))
    assert top[0].shape == (1, 2, 3, 3)
    x = RNG.standard_normal((1, 2, 7, 7))
    _, _, top = run_pool(pool_text("AVE", 2, 2, extra="round_mode: FLOOR"), x)
    np.testing.assert_allclose(top[0].data, F.avg_pool2d(torch.from_numpy(x), 2, 2).numpy(), rtol=1e-12)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("hw,k,s,p", GEOMETRIES)
def test_forward_backward_match_caffe_transcription(pool, hw, k, s, p):
    kh, kw = (k, k) if np.isscalar(k) else k
    sh, sw = (s, s) if np.isscalar(s) else s
    ph, pw = (p, p) if np.isscalar(p) else p
    x = RNG.standard_normal((2, 3) + hw)
    top_ref, _, _ = caffe_pool(x, pool, kh, kw, sh, sw, ph, pw)
    dy = RNG.standard_normal(top_ref.shape)
    _, _, dx_ref = caffe_pool(x, pool, kh, kw, sh, sw, ph, pw, dy)
    _, bottom, top = run_pool(pool_text(pool, k, s, p), x, dy)
    np.testing.assert_allclose(top[0].data, top_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("hw,k,s,p", [g for g in GEOMETRIES
                                      if all(2 * q <= kk for q, kk in zip(np.broadcast_to(g[3], 2),
                                                                          np.broadcast_to(g[1], 2)))])
def test_forward_backward_match_torch(pool, hw, k, s, p):
    """torch with ceil_mode=True (and count_include_pad=True) computes Caffe's windows and
    Caffe's AVE divisor (window clipped to image + pad) on these geometries."""
    x = RNG.standard_normal((2, 3) + hw).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    if pool == "MAX":
        yt = F.max_pool2d(xt, k, s, p, ceil_mode=True)
    else:
        yt = F.avg_pool2d(xt, k, s, p, ceil_mode=True, count_include_pad=True)
    dy = RNG.standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.from_numpy(dy))
    _, bottom, top = run_pool(pool_text(pool, k, s, p), x, dy, dtype=np.float32)
    np.testing.assert_allclose(top[0].data, yt.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_empty_windows_past_the_image(pool):
    """stride > kernel without padding: Caffe keeps a last window that starts past the image
    (torch drops it).  MAX gives -FLT_MAX there; AVE gives 0 (Caffe divides 0 by a pool size
    <= 0: -0 for a negative size, NaN for a zero size -- caffeine gives 0 for the latter)."""
    x = RNG.standard_normal((1, 2, 5, 7))
    ref, _, _ = caffe_pool(x, pool, 1, 2, 3, 3, 0, 0)  # heights 5 -> 3 windows, last one empty
    dy = RNG.standard_normal(ref.shape)
    _, _, dx_ref = caffe_pool(x, pool, 1, 2, 3, 3, 0, 0, dy)
    _, bottom, top = run_pool(pool_text(pool, (1, 2), 3), x, dy)
    assert top[0].shape == (1, 2, 3, 3)
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12)
    # zero-size window (starts exactly at H): output 0, no NaN
    _, _, top = run_pool(pool_text(pool, 1, 3), RNG.standard_normal((1, 1, 6, 6)))
    assert top[0].shape == (1, 1, 3, 3)
    assert np.isfinite(top[0].data).all()


def test_max_ties_go_to_first_maximum_like_caffe():
    x = np.zeros((2, 2, 7, 7))
    x[:, :, 2:5, 2:5] = 1.0  # plateaus: many windows with several equal maxima
    dy = RNG.standard_normal((2, 2, 3, 3))
    _, mask_ref, dx_ref = caffe_pool(x, "MAX", 3, 3, 2, 2, 0, 0, dy)
    _, bottom, top = run_pool(pool_text("MAX", 3, 2), x, dy, n_top=2)
    np.testing.assert_array_equal(top[1].data, mask_ref)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12)


@pytest.mark.parametrize("hw,k,s,p", [((6, 6), 3, 2, 1), ((8, 8), 2, 2, 0), ((7, 5), 3, 2, 0)])
def test_max_mask_top(hw, k, s, p):
    x = RNG.standard_normal((2, 3) + hw)
    _, mask_ref, _ = caffe_pool(x, "MAX", k, k, s, s, p, p)
    _, _, top = run_pool(pool_text("MAX", k, s, p), x, n_top=2)
    assert top[1].shape == top[0].shape
    np.testing.assert_array_equal(top[1].data, mask_ref)
    # the mask indexes the (unpadded) H x W plane and points at the max
    planes = x.reshape(6, -1)
    picked = np.take_along_axis(planes, top[1].data.reshape(6, -1).astype(int), axis=1)
    np.testing.assert_array_equal(picked, top[0].data.reshape(6, -1))


def test_backward_survives_in_place_layer_above():
    """An in-place ReLU above MAX pooling (CIFAR10-quick's relu1 on pool1) rewrites the top
    before backward; the gradient must still go to the argmax."""
    x = RNG.standard_normal((2, 3, 9, 9))
    dy = RNG.standard_normal((2, 3, 4, 4))
    _, _, dx_ref = caffe_pool(x, "MAX", 3, 3, 2, 2, 0, 0, dy)
    layer, bottom, top = run_pool(pool_text("MAX", 3, 2), x)
    top[0].data[...] = np.maximum(top[0].data, 0)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_global_pooling(pool):
    x = RNG.standard_normal((2, 3, 5, 4))
    dy = RNG.standard_normal((2, 3, 1, 1))
    ref, _, dx_ref = caffe_pool(x, pool, 5, 4, 1, 1, 0, 0, dy)
    _, bottom, top = run_pool(f'type: "Pooling" pooling_param {{ pool: {pool} global_pooling: true }}', x, dy)
    assert top[0].shape == (2, 3, 1, 1)
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_many_chunks(monkeypatch, pool):
    """The overlapping-window path works through the batch in cache-sized chunks."""
    monkeypatch.setattr(pooling_ops.PhaseGrid, "CHUNK_BYTES", 3000)
    x = RNG.standard_normal((5, 7, 9, 8))
    ref, _, _ = caffe_pool(x, pool, 3, 3, 2, 2, 1, 1)
    dy = RNG.standard_normal(ref.shape)
    _, _, dx_ref = caffe_pool(x, pool, 3, 3, 2, 2, 1, 1, dy)
    layer, bottom, top = run_pool(pool_text(pool, 3, 2, 1), x, dy)
    assert layer.pooler.layout == "grid" and layer.pooler._grid.planes < 35
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12)


def test_batch_size_change_reshapes():
    layer = make_layer(pool_text("MAX", 3, 2))
    for i, n in enumerate((3, 1, 4)):
        x = RNG.standard_normal((n, 2, 7, 7))
        bottom, top = blobs_from(x), empty_tops(1)
        if i == 0:
            layer.layer_setup(bottom, top)
        layer.forward(bottom, top)
        np.testing.assert_allclose(top[0].data, caffe_pool(x, "MAX", 3, 3, 2, 2, 0, 0)[0], rtol=1e-12)


def test_engine_field_is_ignored():
    x = RNG.standard_normal((1, 2, 5, 5))
    _, _, top = run_pool(pool_text("MAX", 3, 2, extra="engine: CUDNN"), x)
    np.testing.assert_array_equal(top[0].data, caffe_pool(x, "MAX", 3, 3, 2, 2, 0, 0)[0])


def test_propagate_down_false_leaves_diff():
    layer, bottom, top = run_pool(pool_text("MAX", 2, 2), RNG.standard_normal((1, 2, 4, 4)))
    bottom[0].diff[...] = 7.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0)


# ---- OpenCV dnn --------------------------------------------------------------------------
@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("hw,k,s,p", [((7, 7), 3, 2, 0), ((7, 7), 3, 2, 1), ((6, 8), 3, 2, 1),
                                      ((8, 8), 2, 2, 0), ((7, 5), 3, 2, 0)])
def test_matches_opencv_dnn(tmp_path, pool, hw, k, s, p):
    x = RNG.standard_normal((2, 3) + hw).astype(np.float32)
    text = f'type: "Pooling" pooling_param {{ pool: {pool} kernel_size: {k} stride: {s} pad: {p} }}'
    ref = opencv_forward(tmp_path, text, x)
    _, _, top = run_pool(text, x, dtype=np.float32)
    assert top[0].shape == ref.shape
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-5, atol=1e-6)


# ---- gradient checks (float64) -------------------------------------------------------------
def distinct(shape):
    """Distinct values 0.01 apart: no ties within a finite-difference step."""
    return RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 0.5


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("hw,k,s,p", [((6, 6), 3, 2, 1), ((5, 7), 2, 2, 0), ((4, 4), 2, 2, 0),
                                      ((5, 5), (3, 2), (1, 2), (1, 0)), ((9, 7), 4, 4, 1)])
def test_gradient(pool, hw, k, s, p):
    layer = make_layer(pool_text(pool, k, s, p))
    check_gradient(layer, blobs_from(distinct((2, 2) + hw)), empty_tops(1), stepsize=1e-4, threshold=1e-6)


def test_gradient_with_mask_top():
    layer = make_layer(pool_text("MAX", 3, 2, 1))
    check_gradient(layer, blobs_from(distinct((1, 2, 5, 5))), empty_tops(2), top_ids=[0],
                   stepsize=1e-4, threshold=1e-6)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_gradient_global(pool):
    layer = make_layer(f'type: "Pooling" pooling_param {{ pool: {pool} global_pooling: true }}')
    check_gradient(layer, blobs_from(distinct((2, 3, 3, 4))), empty_tops(1), stepsize=1e-4, threshold=1e-6)


# ---- STOCHASTIC ----------------------------------------------------------------------------
def windows(x, k, s):
    """The (clipped, unpadded) windows of Caffe's stochastic pooling, per output."""
    n, c, h, w = x.shape
    oh, ow = caffe_out_size(h, w, k, k, s, s, 0, 0)
    for a in range(oh):
        for b in range(ow):
            yield a, b, slice(a * s, min(a * s + k, h)), slice(b * s, min(b * s + k, w))


def test_stochastic_test_phase_formula():
    x = RNG.random((2, 3, 7, 6)) + 0.1
    _, _, top = run_pool(pool_text("STOCHASTIC", 3, 2), x, phase=caffe_pb2.TEST)
    expected = np.zeros(top[0].shape)
    for a, b, r, c in windows(x, 3, 2):
        win = x[:, :, r, c]
        expected[:, :, a, b] = (win ** 2).sum(axis=(2, 3)) / (np.finfo(np.float32).tiny + win.sum(axis=(2, 3)))
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


def test_stochastic_test_phase_gradient():
    layer = make_layer(pool_text("STOCHASTIC", 3, 2), caffe_pb2.TEST)
    check_gradient(layer, blobs_from(RNG.random((1, 2, 5, 5)) + 0.5), empty_tops(1), stepsize=1e-5)


def test_stochastic_train_samples_and_routes_to_the_sample():
    backend.set_random_seed(3)
    x = distinct((2, 3, 7, 7)) + 0.6  # positive and distinct
    dy = RNG.standard_normal((2, 3, 3, 3))
    _, bottom, top = run_pool(pool_text("STOCHASTIC", 3, 2), x, dy)
    expected_dx = np.zeros_like(x)
    for a, b, r, c in windows(x, 3, 2):
        win = x[:, :, r, c]
        out = top[0].data[:, :, a, b]
        hit = win == out[:, :, None, None]
        assert np.all(hit.sum(axis=(2, 3)) == 1), "every output is one element of its window"
        expected_dx[:, :, r, c] += hit * dy[:, :, a, b][:, :, None, None]
    np.testing.assert_allclose(bottom[0].diff, expected_dx, rtol=1e-12)


def test_stochastic_train_probability_proportional_to_activation():
    backend.set_random_seed(11)
    x = np.tile(np.array([[1.0, 2.0], [3.0, 4.0]]), (1, 4000, 1, 1))  # 4000 independent windows
    _, _, top = run_pool(pool_text("STOCHASTIC", 2, 2), x)
    freq = np.array([(top[0].data == v).mean() for v in (1.0, 2.0, 3.0, 4.0)])
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.03)


def test_stochastic_train_uses_global_seed():
    x = RNG.random((1, 4, 6, 6))
    outs = []
    for _ in range(2):
        backend.set_random_seed(5)
        outs.append(run_pool(pool_text("STOCHASTIC", 2, 2), x)[2][0].data.copy())
    np.testing.assert_array_equal(outs[0], outs[1])


# ---- bad parameters ------------------------------------------------------------------------
@pytest.mark.parametrize("text,match", [
    (pool_text("MAX", 2, 1, 2), "pad must be smaller than the kernel"),
    (pool_text("AVE", (3, 2), 1, (1, 2)), "pad must be smaller than the kernel"),
    ('type: "Pooling" pooling_param { kernel_size: 2 kernel_h: 2 kernel_w: 2 }', "not both"),
    ('type: "Pooling" pooling_param { kernel_h: 2 }', "kernel_size is required"),
    ('type: "Pooling" pooling_param { stride: 2 }', "kernel_size is required"),
    ('type: "Pooling" pooling_param { global_pooling: true kernel_size: 2 }', "global_pooling"),
    ('type: "Pooling" pooling_param { global_pooling: true pad: 1 }', "global_pooling"),
    ('type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 3 pad: 1 }', "padding"),
    ('type: "Pooling" pooling_param { kernel_size: 2 pad: 1 pad_h: 1 pad_w: 1 }', "pad_h and pad_w"),
    ('type: "Pooling" pooling_param { kernel_size: 2 stride_h: 2 }', "stride_h and stride_w"),
    ('type: "Pooling" pooling_param { kernel_size: 2 stride: 0 }', "stride must be positive"),
    ('type: "Pooling" pooling_param { kernel_size: 0 }', "cannot be zero"),
])
def test_bad_parameters(text, match):
    with pytest.raises(ConfigError, match=match):
        run_pool(text, RNG.standard_normal((1, 1, 6, 6)))


def test_mask_top_only_for_max():
    with pytest.raises(ConfigError, match="only MAX pooling has a second"):
        run_pool(pool_text("AVE", 2, 2), RNG.standard_normal((1, 1, 4, 4)), n_top=2)


def test_bad_input_shapes():
    with pytest.raises(ConfigError, match="4 axes"):
        run_pool(pool_text("MAX", 2, 2), RNG.standard_normal((2, 3, 4)))
    with pytest.raises(ConfigError, match="does not fit"):
        run_pool(pool_text("MAX", 5, 1), RNG.standard_normal((1, 1, 2, 2)))
