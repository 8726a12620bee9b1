"""The im2col, pooling, LRN, softmax and batchnorm kernels, built for the host with
host_shim.h and run through ctypes, against independent numpy oracles and the CPU layers.

Launches use small grids (fewer threads than elements, and more), so the grid-stride loops
and every thread's share are exercised; guard zones around each array catch out-of-bounds
writes (caffeine.testing.cuda_host).
"""
import itertools

import numpy as np
import pytest

from caffeine.cuda_layers.neuron_gpu import uniform_host
from caffeine.layers import pooling_ops
from caffeine.testing import cuda_host
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
LAUNCHES = [(1, 1), (2, 3), (5, 64)]


def out_size(size, k, s, p, d):
    return (size + 2 * p - (d * (k - 1) + 1)) // s + 1


def im2col_oracle(x, kernel, pad, stride, dilation):
    """(nb, C, *S) -> (C*K, nb*L), written out with explicit index arithmetic."""
    nb, c = x.shape[:2]
    spatial = x.shape[2:]
    outs = [out_size(*a) for a in zip(spatial, kernel, stride, pad, dilation)]
    L = int(np.prod(outs))
    K = int(np.prod(kernel))
    cols = np.zeros((c * K, nb * L), x.dtype)
    for b, ch in itertools.product(range(nb), range(c)):
        for k, offs in enumerate(itertools.product(*(range(kk) for kk in kernel))):
            for o, pos in enumerate(itertools.product(*(range(n) for n in outs))):
                idx = [q * s - p + f * d for q, s, p, f, d in zip(pos, stride, pad, offs, dilation)]
                if all(0 <= i < n for i, n in zip(idx, spatial)):
                    cols[ch * K + k, b * L + o] = x[(b, ch) + tuple(idx)]
    return cols


def run_im2col(x, kernel, pad, stride, dilation, nd, launch=(3, 4)):
    nb, c = x.shape[:2]
    spatial = x.shape[2:]
    outs = [out_size(*a) for a in zip(spatial, kernel, stride, pad, dilation)]
    cols = np.full((c * int(np.prod(kernel)), nb * int(np.prod(outs))), 7.0, x.dtype)
    n = c * nb * int(np.prod(outs))
    if nd:
        geom = np.array(list(spatial) + outs + list(kernel) + list(pad) + list(stride) + list(dilation), np.int32)
        args = (x, I(nb), I(c), I(len(spatial)), geom, cols)
        name = "im2col_nd"
    else:
        args = (x, I(nb), I(c), I(spatial[0]), I(spatial[1]), *map(I, (kernel[0], kernel[1], pad[0], pad[1],
                stride[0], stride[1], dilation[0], dilation[1], outs[0], outs[1])), cols)
        name = "im2col_2d"
    cuda_host.launch("im2col", name, n, args, dtype=x.dtype, grid=launch[0], block=launch[1])
    return cols


def run_col2im(cols, image_shape, kernel, pad, stride, dilation, nd):
    nb, c = image_shape[:2]
    spatial = image_shape[2:]
    outs = [out_size(*a) for a in zip(spatial, kernel, stride, pad, dilation)]
    im = np.full(image_shape, 7.0, cols.dtype)
    if nd:
        geom = np.array(list(spatial) + outs + list(kernel) + list(pad) + list(stride) + list(dilation), np.int32)
        args = (cols, I(nb), I(c), I(len(spatial)), geom, im)
        name = "col2im_nd"
    else:
        args = (cols, I(nb), I(c), I(spatial[0]), I(spatial[1]), *map(I, (kernel[0], kernel[1], pad[0], pad[1],
                stride[0], stride[1], dilation[0], dilation[1], outs[0], outs[1])), im)
        name = "col2im_2d"
    cuda_host.launch("im2col", name, im.size, args, dtype=cols.dtype)
    return im


GEOMETRIES_2D = [((3, 3), (1, 1), (1, 1), (1, 1)), ((2, 3), (0, 1), (2, 1), (1, 2)),
                 ((3, 2), (2, 0), (1, 3), (2, 1)), ((1, 1), (0, 0), (1, 1), (1, 1))]


@pytest.mark.parametrize("geometry", GEOMETRIES_2D)
@pytest.mark.parametrize("nd", [False, True], ids=["2d", "nd"])
def test_im2col_matches_oracle(geometry, nd):
    kernel, pad, stride, dilation = geometry
    x = np.random.default_rng(0).standard_normal((3, 2, 7, 6)).astype(np.float32)
    np.testing.assert_array_equal(run_im2col(x, kernel, pad, stride, dilation, nd),
                                  im2col_oracle(x, kernel, pad, stride, dilation))


@pytest.mark.parametrize("launch", LAUNCHES)
def test_im2col_any_launch_configuration(launch):
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 6))
    ref = im2col_oracle(x, (3, 3), (1, 2), (2, 1), (1, 1))
    np.testing.assert_array_equal(run_im2col(x, (3, 3), (1, 2), (2, 1), (1, 1), False, launch), ref)


def test_im2col_nd_3d_and_1d():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 4, 5, 3))
    geom = ((2, 3, 2), (1, 0, 1), (2, 1, 1), (1, 1, 2))
    np.testing.assert_array_equal(run_im2col(x, *geom, nd=True), im2col_oracle(x, *geom))
    x1 = rng.standard_normal((3, 2, 9))
    geom1 = ((3,), (2,), (2,), (2,))
    np.testing.assert_array_equal(run_im2col(x1, *geom1, nd=True), im2col_oracle(x1, *geom1))


def test_im2col_per_image_is_caffes_column_buffer():
    """nb = 1 gives exactly Caffe's (and conv_utils') column buffer of one image."""
    from caffeine.layers import conv_utils
    x = np.random.default_rng(3).standard_normal((1, 3, 6, 7)).astype(np.float32)
    ref = conv_utils.im2col(x, (3, 2), (1, 1), (2, 1), (1, 2))
    cols = run_im2col(x, (3, 2), (1, 1), (2, 1), (1, 2), False)
    np.testing.assert_array_equal(cols, ref.reshape(cols.shape))


@pytest.mark.parametrize("geometry", GEOMETRIES_2D + [((2, 2, 2), (1, 0, 1), (1, 2, 1), (2, 1, 1))])
def test_col2im_is_the_adjoint_of_im2col(geometry):
    """<im2col(x), c> == <x, col2im(c)> for random x and c (float64)."""
    kernel, pad, stride, dilation = geometry
    nd = len(kernel) != 2
    rng = np.random.default_rng(4)
    shape = (2, 3) + ((5, 6, 4) if nd else (7, 6))
    x = rng.standard_normal(shape)
    cols = run_im2col(x, kernel, pad, stride, dilation, nd)
    c = rng.standard_normal(cols.shape)
    back = run_col2im(c, shape, kernel, pad, stride, dilation, nd)
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-12)
    if not nd:  # the 2-D and N-D kernels agree
        np.testing.assert_allclose(back, run_col2im(c, shape, kernel, pad, stride, dilation, True), rtol=1e-13)


# ---- pooling ---------------------------------------------------------------------------------
POOLS = [(3, 3, 2, 2, 1, 1, False), (2, 3, 2, 1, 1, 0, False), (3, 2, 3, 2, 0, 1, True), (2, 2, 2, 2, 0, 0, False),
         (1, 1, 3, 3, 0, 0, False)]  # kh, kw, sh, sw, ph, pw, floor


def _geom(x, pool):
    kh, kw, sh, sw, ph, pw, floor = pool
    return pooling_ops.PoolGeometry(x.shape[2], x.shape[3], kh, kw, sh, sw, ph, pw, floor)


def _pool_args(x, g):
    return (I(x.shape[1]), I(g.height), I(g.width), I(g.out_h), I(g.out_w), I(g.kernel_h), I(g.kernel_w),
            I(g.stride_h), I(g.stride_w))


@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("method", [pooling_ops.MAX, pooling_ops.AVE])
def test_pooling_matches_the_cpu_pooler(pool, method):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 7, 8))
    x[0, 0, :2, :2] = 0.5  # ties: the first maximum wins
    g = _geom(x, pool)
    pooler = pooling_ops.Pooler(g, method, train=True)
    ref = np.empty((2, 3, g.out_h, g.out_w))
    pooler.forward(x, ref)
    y = np.zeros_like(ref)
    pad = (I(g.pad_h), I(g.pad_w))
    dy = rng.standard_normal(ref.shape)
    dx = np.zeros_like(x)
    ref_dx = np.zeros_like(x)
    pooler.backward(x, dy, ref_dx)
    if method == pooling_ops.MAX:
        mask = np.zeros(ref.shape, np.int32)
        cuda_host.launch("pooling", "max_pool_forward", y.size, (x, *_pool_args(x, g), *pad, y, mask),
                         dtype=x.dtype)
        ref_mask = np.empty(ref.shape)
        pooler.mask(x, ref, ref_mask)
        np.testing.assert_array_equal(mask, ref_mask)
        cuda_host.launch("pooling", "max_pool_backward", x.size, (dy, mask, *_pool_args(x, g), *pad, dx),
                         dtype=x.dtype)
    else:
        cuda_host.launch("pooling", "ave_pool_forward", y.size, (x, *_pool_args(x, g), *pad, y), dtype=x.dtype)
        cuda_host.launch("pooling", "ave_pool_backward", x.size, (dy, *_pool_args(x, g), *pad, dx), dtype=x.dtype)
    np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-14)


class _Uniforms:
    """A numpy-Generator stand-in returning fixed uniforms (so CPU and kernel sample alike)."""

    def __init__(self, u):
        self.u = u

    def random(self, shape, dtype=np.float64):
        return self.u.reshape(shape).astype(dtype)


@pytest.mark.parametrize("train", [True, False])
def test_stochastic_pooling_matches_the_cpu_pooler(train):
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 1, size=(2, 2, 7, 7)).astype(np.float32)
    g = _geom(x, (3, 3, 2, 2, 0, 0, False))
    pooler = pooling_ops.Pooler(g, pooling_ops.STOCHASTIC, train=train)
    ref = np.empty((2, 2, g.out_h, g.out_w), np.float32)
    u = uniform_host(1234, ref.size)
    pooler.forward(x, ref, _Uniforms(u))
    dy = rng.standard_normal(ref.shape).astype(np.float32)
    ref_dx = np.empty_like(x)
    pooler.backward(x, dy, ref_dx)
    y, dx = np.zeros_like(ref), np.zeros_like(x)
    if train:
        rand = np.zeros(ref.size, np.float32)
        cuda_host.launch("pooling", "pool_uniform", rand.size, (np.uint64(1234), rand))
        np.testing.assert_array_equal(rand, u)
        mask = np.zeros(ref.shape, np.int32)
        cuda_host.launch("pooling", "sto_pool_forward_train", y.size, (x, rand, *_pool_args(x, g), y, mask))
        cuda_host.launch("pooling", "sto_pool_backward_train", x.size, (dy, mask, *_pool_args(x, g), dx))
        np.testing.assert_array_equal(y, ref)
        np.testing.assert_array_equal(dx, ref_dx)
    else:
        s, q = np.zeros_like(ref), np.zeros_like(ref)
        cuda_host.launch("pooling", "sto_pool_forward_test", y.size, (x, *_pool_args(x, g), y, s, q))
        cuda_host.launch("pooling", "sto_pool_backward_test", x.size, (x, dy, s, q, *_pool_args(x, g), dx))
        np.testing.assert_allclose(y, ref, rtol=1e-6)
        np.testing.assert_allclose(dx, ref_dx, rtol=1e-4, atol=1e-6)


# ---- LRN, softmax, batchnorm ------------------------------------------------------------------
@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_lrn_matches_the_cpu_layer(region):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 4, 5))
    layer = make_layer(f'type: "LRN" lrn_param {{ local_size: 5 alpha: 0.4 beta: 0.6 k: 1.5 norm_region: {region} }}')
    bottom, top = [blob_from(x)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(x.shape)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    scale, y, dx = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    n, c, h, w = x.shape
    s = (np.float64(layer.shift), np.float64(layer.coef))
    if region == "ACROSS_CHANNELS":
        cuda_host.launch("lrn", "lrn_across_scale", x.size, (x, I(c), I(h * w), I(5), *s, scale), dtype=x.dtype)
    else:
        cuda_host.launch("lrn", "lrn_within_scale", x.size, (x, I(h), I(w), I(5), *s, scale), dtype=x.dtype)
    cuda_host.launch("lrn", "lrn_output", x.size, (x, scale, np.float64(-layer.beta), y), dtype=x.dtype)
    np.testing.assert_allclose(y, top[0].data, rtol=1e-12)
    ratio = np.float64(2 * layer.coef * layer.beta)
    if region == "ACROSS_CHANNELS":
        args = (x, y, scale, dy, I(c), I(h * w), I(5), np.float64(-layer.beta), ratio, dx)
        cuda_host.launch("lrn", "lrn_across_diff", x.size, args, dtype=x.dtype)
    else:
        args = (x, y, scale, dy, I(h), I(w), I(5), np.float64(-layer.beta), ratio, dx)
        cuda_host.launch("lrn", "lrn_within_diff", x.size, args, dtype=x.dtype)
    np.testing.assert_allclose(dx, bottom[0].diff, rtol=1e-10, atol=1e-13)


def test_softmax_and_loss_kernels():
    rng = np.random.default_rng(8)
    outer, c, inner = 3, 5, 4
    x = rng.standard_normal((outer, c, inner)).astype(np.float32) * 30  # large: max subtraction matters
    prob = np.zeros_like(x)
    cuda_host.launch("softmax", "softmax_forward", outer * inner, (x, I(c), I(inner), prob))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(prob, e / e.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-30)
    label = np.array([[0, 4, 2, 3], [1, 255, 0, 0], [4, 4, 255, 2]], np.float32)
    loss, counts = np.zeros((outer, inner), np.float32), np.zeros((outer, inner), np.float32)
    cuda_host.launch("softmax", "softmax_loss_forward", outer * inner,
                     (prob, label, I(c), I(inner), I(1), I(255), loss, counts))
    valid = label != 255
    lab = np.where(valid, label, 0).astype(int)
    p = np.take_along_axis(prob, lab[:, None, :], axis=1)[:, 0]
    np.testing.assert_allclose(loss, np.where(valid, -np.log(np.maximum(p, np.finfo(np.float32).tiny)), 0),
                               rtol=1e-6)
    np.testing.assert_array_equal(counts, valid)
    scale = np.array([0.25], np.float32)
    dx = np.zeros_like(x)
    cuda_host.launch("softmax", "softmax_loss_backward", x.size,
                     (prob, label, I(c), I(inner), I(1), I(255), scale, dx))
    onehot = (np.arange(c)[None, :, None] == lab[:, None, :])
    np.testing.assert_allclose(dx, (prob - onehot) * valid[:, None, :] * 0.25, rtol=1e-6, atol=1e-8)
    bad = label.copy()
    bad[0, 0] = 5  # out of range, not ignored: state -1
    cuda_host.launch("softmax", "softmax_loss_forward", outer * inner,
                     (prob, bad, I(c), I(inner), I(1), I(255), loss, counts))
    assert counts[0, 0] == -1 and (counts.ravel()[1:] >= 0).all()


@pytest.mark.parametrize("shape", [(4, 3, 7), (1, 2, 600), (3, 5, 1)])
def test_batchnorm_channel_reduction(shape):
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    num, c, sp = shape
    chunk = 64
    chunks = -(-(num * sp) // chunk)
    mean = a.mean(axis=(0, 2))
    for mode, ref in ((0, a.sum(axis=(0, 2))), (1, ((a - mean[None, :, None]) ** 2).sum(axis=(0, 2))),
                      (2, (a * b).sum(axis=(0, 2)))):
        partial = np.zeros((c, chunks))
        cuda_host.launch("batch_norm", "bn_reduce", c * chunks,
                         (a, b, mean, I(mode), I(num), I(c), I(sp), I(chunk), partial), dtype=np.float64)
        np.testing.assert_allclose(partial.sum(axis=1), ref, rtol=1e-12, atol=1e-12)
