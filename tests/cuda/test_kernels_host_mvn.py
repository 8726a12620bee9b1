"""The MVN kernels (layers_cuda/mvn.cu), built for the host (host_shim.h + g++ + ctypes),
chained as caffeine/cuda_layers/mvn_gpu.py chains them, against the CPU layer."""
import numpy as np
import pytest

from caffeine.cuda_layers.mvn_gpu import DOT, SQDEV, SUM
from caffeine.testing import cuda_host
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32


def _row_sums(mode, a, b, center, rows, dim, chunk, dt):
    chunks = -(-dim // chunk)
    partial = np.zeros((rows, chunks), dtype=dt)
    cuda_host.launch("mvn", "mvn_reduce", rows * chunks, (a, b, center, I(mode), I(dim), I(chunk), partial), dtype=dt)
    return partial.sum(axis=1)


def _kernels_forward_backward(x, dy, eps, normalize, rows, dim, chunk):
    dt = x.dtype
    n = I(int(normalize))
    mean = _row_sums(SUM, x, x, x, rows, dim, chunk, dt) / dt.type(dim)
    sigma, denom = np.zeros(rows, dt), np.zeros(rows, dt)
    if normalize:
        sqdev = _row_sums(SQDEV, x, x, mean, rows, dim, chunk, dt)
        cuda_host.launch("mvn", "mvn_std", rows, (sqdev, I(dim), dt.type(eps), sigma, denom), dtype=dt)
    y = np.zeros_like(x)
    cuda_host.launch("mvn", "mvn_normalize", x.size, (x, mean, denom, n, I(dim), y), dtype=dt)
    mean_dy = _row_sums(SUM, dy, dy, dy, rows, dim, chunk, dt) / dt.type(dim)
    coef = np.zeros(rows, dt)
    if normalize:
        dot = _row_sums(DOT, dy, y, dy, rows, dim, chunk, dt)
        cuda_host.launch("mvn", "mvn_backward_coef", rows, (dot, sigma, denom, I(dim), coef), dtype=dt)
    dx = np.zeros_like(x)
    cuda_host.launch("mvn", "mvn_backward", x.size, (dy, y, mean_dy, coef, denom, n, I(dim), dx), dtype=dt)
    return y, dx


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("across", [True, False])
@pytest.mark.parametrize("chunk", [1, 6, 256])
def test_mvn_kernels_match_the_cpu_layer(normalize, across, chunk):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5)) * 3 + 1
    x[1, 2] = 0.5  # a constant row: sigma 0
    eps = 0.05
    layer = make_layer(f'type: "MVN" mvn_param {{ normalize_variance: {str(normalize).lower()} '
                       f'across_channels: {str(across).lower()} eps: {eps} }}')
    bottom, top = [blob_from(x)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(x.shape)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    eps = layer.layer_param.mvn_param.eps  # the proto's float: 0.05 rounded to float32
    y, dx = _kernels_forward_backward(x, dy, eps, normalize, layer.rows, layer.dim, chunk)
    np.testing.assert_allclose(y, top[0].data, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dx, bottom[0].diff, rtol=1e-11, atol=1e-12)
    # numpy oracle of the forward (Caffe: eps added to the standard deviation)
    r = x.reshape(layer.rows, -1)
    c = r - r.mean(axis=1, keepdims=True)
    want = c / (np.sqrt((c * c).mean(axis=1, keepdims=True)) + eps) if normalize else c
    np.testing.assert_allclose(y.reshape(want.shape), want, rtol=1e-11, atol=1e-12)


def test_float32_build():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 40)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    y, dx = _kernels_forward_backward(x, dy, 1e-9, True, 3, 40, 16)
    c = x.astype(np.float64) - x.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(y, c / np.sqrt((c * c).mean(axis=1, keepdims=True)), rtol=1e-4, atol=1e-5)
    assert dx.dtype == np.float32 and np.all(np.isfinite(dx))
