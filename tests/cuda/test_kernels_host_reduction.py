"""The Reduction kernels (layers_cuda/reduction.cu), built for the host (host_shim.h + g++ +
ctypes), against the CPU layer and a numpy oracle."""
import numpy as np
import pytest

from caffeine.testing import cuda_host
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
F = np.float64
ORACLE = {"SUM": lambda x: x.sum(axis=1), "ASUM": lambda x: np.abs(x).sum(axis=1),
          "SUMSQ": lambda x: (x * x).sum(axis=1), "MEAN": lambda x: x.mean(axis=1)}


@pytest.mark.parametrize("op", ["SUM", "ASUM", "SUMSQ", "MEAN"])
@pytest.mark.parametrize("axis,chunk", [(0, 7), (1, 1), (-1, 256)])
def test_reduction_kernels_match_the_cpu_layer(op, axis, chunk):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5))
    x[0, 0, 0] = 0.0  # ASUM's kink: sign 0
    coeff = 0.75
    layer = make_layer(f'type: "Reduction" reduction_param {{ operation: {op} axis: {axis} coeff: {coeff} }}')
    bottom, top = [blob_from(x)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(top[0].shape)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    num, dim = layer.num, layer.dim
    chunks = -(-dim // chunk)
    partial = np.zeros((num, chunks))
    op_value = int(layer.op)
    cuda_host.launch("reduction", "reduction_partial", num * chunks, (x, I(op_value), I(dim), I(chunk), partial),
                     dtype=F)
    y = partial.sum(axis=1) * layer.coeff
    np.testing.assert_allclose(y, top[0].data.reshape(num), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(y, ORACLE[op](x.reshape(num, dim)) * coeff, rtol=1e-13)
    dx = np.zeros_like(x)
    cuda_host.launch("reduction", "reduction_backward", x.size,
                     (x, np.ascontiguousarray(dy.reshape(num)), I(op_value), I(dim), F(layer.coeff), dx), dtype=F)
    np.testing.assert_allclose(dx, bottom[0].diff, rtol=1e-14, atol=1e-300)


def test_float32_build():
    x = np.random.default_rng(1).standard_normal((4, 9)).astype(np.float32)
    partial = np.zeros((4, 3), dtype=np.float32)
    cuda_host.launch("reduction", "reduction_partial", 12, (x, I(3), I(9), I(3), partial), dtype=np.float32,
                     grid=5, block=7)
    np.testing.assert_allclose(partial.sum(axis=1), (x * x).sum(axis=1), rtol=1e-5)
