"""SPP: Caffe's output sizes (test_spp_layer.cpp), forward/backward against pooling + flatten +
concat computed by a numpy transcription of Caffe's per-level GetPoolingParam and pooling
loops, gradient checks, bad parameters."""
import math

import numpy as np
import pytest

from caffeine.blob import Blob
from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(99)
FLT_MAX = float(np.finfo(np.float32).max)


def spp_text(height, pool="MAX"):
    return f'type: "SPP" spp_param {{ pyramid_height: {height} pool: {pool} }}'


def caffe_level_param(level, h, w):
    """SPPLayer::GetPoolingParam, transcribed."""
    bins = 2 ** level
    kh, kw = int(math.ceil(h / bins)), int(math.ceil(w / bins))
    ph, pw = (kh * bins - h + 1) // 2, (kw * bins - w + 1) // 2
    return kh, kw, ph, pw


def caffe_pool_level(x, pool, kh, kw, ph, pw, dy=None):
    """PoolingLayer with stride = kernel, transcribed loop by loop (MAX and AVE)."""
    n, c, h, w = x.shape
    oh = int(math.ceil((h + 2 * ph - kh) / kh)) + 1
    ow = int(math.ceil((w + 2 * pw - kw) / kw)) + 1
    if ph or pw:
        oh -= (oh - 1) * kh >= h + ph
        ow -= (ow - 1) * kw >= w + pw
    top = np.zeros((n, c, oh, ow))
    dx = np.zeros_like(x)
    for a in range(oh):
        for b in range(ow):
            h0, w0 = a * kh - ph, b * kw - pw
            if pool == "MAX":
                h1, w1, h0, w0 = min(h0 + kh, h), min(w0 + kw, w), max(h0, 0), max(w0, 0)
                win = x[:, :, h0:h1, w0:w1].reshape(n, c, -1)
                top[:, :, a, b] = win.max(axis=2)
                if dy is not None:
                    first = win.argmax(axis=2)
                    for i in range(n):
                        for j in range(c):
                            y, z = divmod(first[i, j], w1 - w0)
                            dx[i, j, h0 + y, w0 + z] += dy[i, j, a, b]
            else:
                h1, w1 = min(h0 + kh, h + ph), min(w0 + kw, w + pw)
                size = (h1 - h0) * (w1 - w0)
                h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
                top[:, :, a, b] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / size
                if dy is not None:
                    dx[:, :, h0:h1, w0:w1] += (dy[:, :, a, b] / size)[:, :, None, None]
    return top, dx


def caffe_spp(x, levels, pool, dy=None):
    """split -> per level (pool -> flatten) -> concat, and its backward."""
    n, _, h, w = x.shape
    outs, dx, start = [], np.zeros_like(x), 0
    for level in range(levels):
        kh, kw, ph, pw = caffe_level_param(level, h, w)
        top, _ = caffe_pool_level(x, pool, kh, kw, ph, pw)
        outs.append(top.reshape(n, -1))
        if dy is not None:
            size = top[0].size
            _, d = caffe_pool_level(x, pool, kh, kw, ph, pw, dy[:, start:start + size].reshape(top.shape))
            dx += d
            start += size
    return np.concatenate(outs, axis=1), dx


def test_setup_shapes_as_caffe():
    # test_spp_layer.cpp: TestSetup, TestEqualOutputDims, TestEqualOutputDims2
    for shape, height, channels in [((2, 3, 9, 8), 3, 63), ((4, 3, 1024, 765), 5, 1023),
                                    ((10, 3, 7, 7), 3, 63)]:
        layer = make_layer(spp_text(height))
        bottom, top = [Blob(shape, dtype=np.float32)], empty_tops(1, dtype=np.float32)
        layer.layer_setup(bottom, top)
        assert top[0].shape == (shape[0], channels)
        assert (top[0].num, top[0].channels, top[0].height, top[0].width) == (shape[0], channels, 1, 1)


def test_pyramid_height_one_is_plain_global_pooling():
    x = RNG.standard_normal((2, 3, 5, 6))
    _, _, top = run_layer(spp_text(1), [x])
    assert top[0].shape == (2, 3, 1, 1)
    np.testing.assert_allclose(top[0].data[:, :, 0, 0], x.max(axis=(2, 3)), rtol=1e-12)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("shape,levels", [((2, 3, 9, 8), 3), ((1, 2, 7, 7), 3), ((2, 2, 13, 11), 3),
                                          ((1, 2, 16, 20), 4), ((2, 1, 6, 5), 2)])
def test_forward_backward_match_caffe_transcription(pool, shape, levels):
    x = RNG.standard_normal(shape)
    ref, _ = caffe_spp(x, levels, pool)
    dy = RNG.standard_normal(ref.shape)
    _, dx_ref = caffe_spp(x, levels, pool, dy)
    layer, bottom, top = run_layer(spp_text(levels, pool), [x])
    assert top[0].shape == ref.shape
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, dx_ref, rtol=1e-12, atol=1e-15)


def test_reshape_to_new_input_size():
    layer = make_layer(spp_text(2, "AVE"))
    for i, hw in enumerate([(8, 8), (11, 6)]):
        x = RNG.standard_normal((1, 2) + hw)
        bottom, top = blobs_from(x), empty_tops(1)
        if i == 0:
            layer.layer_setup(bottom, top)
        layer.forward(bottom, top)
        np.testing.assert_allclose(top[0].data, caffe_spp(x, 2, "AVE")[0], rtol=1e-12)


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
def test_gradient(pool):
    # Caffe's TestGradient shape (2, 3, 9, 8) and pyramid height 3; distinct values: no MAX ties
    x = RNG.permutation(2 * 3 * 9 * 8).reshape(2, 3, 9, 8) * 0.01
    check_gradient(make_layer(spp_text(3, pool)), blobs_from(x), empty_tops(1), stepsize=1e-4, threshold=1e-6)


def test_stochastic_levels_without_padding():
    x = RNG.random((1, 2, 8, 8)) + 0.1  # 8 = 2 * 4: no level needs padding
    _, _, top = run_layer(spp_text(3, "STOCHASTIC"), [x])
    assert top[0].shape == (1, 2 * 21)


@pytest.mark.parametrize("text,shape,match", [
    ('type: "SPP" spp_param { pool: MAX }', (1, 1, 8, 8), "pyramid_height"),
    ('type: "SPP" spp_param { pyramid_height: 0 }', (1, 1, 8, 8), "pyramid_height"),
    (spp_text(3), (1, 1, 5, 5), "pyramid level 2"),      # 4 bins over 5 rows: pad 2 >= kernel 2
    (spp_text(3), (1, 1, 3, 8), "pyramid level 2"),
    (spp_text(2), (1, 2, 8), "4 axes"),
    (spp_text(3, "STOCHASTIC"), (1, 1, 9, 9), "STOCHASTIC"),
])
def test_bad_parameters(text, shape, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(text, [RNG.standard_normal(shape)])
