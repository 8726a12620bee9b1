"""The Scale and Bias kernels (layers_cuda/scale_bias.cu), built for the host (host_shim.h +
g++ + ctypes), against the CPU layers."""
import numpy as np
import pytest

from caffeine.cuda_layers.scale_bias_gpu import DOT, SUM
from caffeine.testing import cuda_host
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
F = np.float64


def _channel_sums(mode, a, b, dims, chunk, dtype=F):
    outer, dim, inner = dims
    chunks = -(-(outer * inner) // chunk)
    partial = np.zeros((dim, chunks), dtype=dtype)
    cuda_host.launch("scale_bias", "sb_reduce", dim * chunks,
                     (a, b, I(mode), I(outer), I(dim), I(inner), I(chunk), partial), dtype=dtype)
    return partial.sum(axis=1)


@pytest.mark.parametrize("text,shape", [
    ('type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } bias_filler { type: "gaussian" } }',
     (2, 3, 4, 5)),
    ('type: "Scale" scale_param { axis: 0 num_axes: 2 filler { type: "gaussian" } }', (3, 4, 5)),
    ('type: "Scale" scale_param { axis: -1 filler { type: "gaussian" } }', (2, 3, 7)),
])
@pytest.mark.parametrize("chunk", [1, 5, 256])
def test_scale_kernels_match_the_cpu_layer(text, shape, chunk):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    layer = make_layer(text)
    bottom, top = [blob_from(x)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(x.shape)
    top[0].diff[...] = dy
    for p in layer.blobs:
        p.diff[...] = 0
    layer.backward(top, [True], bottom)
    outer, dim, inner = layer.dims
    s = layer.blobs[0].data
    b = layer.blobs[1].data if layer.bias_term else s
    y = np.zeros_like(x)
    cuda_host.launch("scale_bias", "scale_forward", x.size,
                     (x, s, b, I(int(layer.bias_term)), I(dim), I(inner), y), dtype=F)
    np.testing.assert_allclose(y, top[0].data, rtol=1e-14, atol=1e-15)
    dx = np.zeros_like(x)
    cuda_host.launch("scale_bias", "scale_forward", x.size, (dy, s, s, I(0), I(dim), I(inner), dx), dtype=F)
    np.testing.assert_allclose(dx, bottom[0].diff, rtol=1e-14, atol=1e-15)
    ds = _channel_sums(DOT, dy, x, layer.dims, chunk)
    np.testing.assert_allclose(ds, layer.blobs[0].diff.ravel(), rtol=1e-12, atol=1e-13)
    if layer.bias_term:
        db = _channel_sums(SUM, dy, dy, layer.dims, chunk)
        np.testing.assert_allclose(db, layer.blobs[1].diff.ravel(), rtol=1e-12, atol=1e-13)


def test_bias_kernels_match_the_cpu_layer():
    rng = np.random.default_rng(1)
    x, bias = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 4))
    layer = make_layer('type: "Bias"')
    bottom, top = [blob_from(x), blob_from(bias)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(x.shape)
    top[0].diff[...] = dy
    layer.backward(top, [True, True], bottom)
    outer, dim, inner = layer.dims
    assert (outer, dim, inner) == (2, 12, 5)
    y = np.zeros_like(x)
    cuda_host.launch("scale_bias", "bias_forward", x.size, (x, bias, I(dim), I(inner), y), dtype=F)
    np.testing.assert_allclose(y, top[0].data, rtol=1e-15)
    np.testing.assert_allclose(y, x + bias[None, :, :, None], rtol=1e-15)  # numpy oracle
    db = _channel_sums(SUM, dy, dy, layer.dims, 3)
    np.testing.assert_allclose(db, bottom[1].diff.ravel(), rtol=1e-12)


def test_float32_build_and_a_wide_grid():
    """The float build, and more threads than elements (grid-stride loop bound)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    s = rng.standard_normal(3).astype(np.float32)
    y = np.zeros_like(x)
    cuda_host.launch("scale_bias", "scale_forward", x.size, (x, s, s, I(0), I(3), I(4), y),
                     dtype=np.float32, grid=7, block=8)
    np.testing.assert_allclose(y, x * s[None, :, None], rtol=1e-6)
    ds = _channel_sums(DOT, x, x, (2, 3, 4), 2, dtype=np.float32)
    np.testing.assert_allclose(ds, np.einsum("odi,odi->d", x, x), rtol=1e-5)
