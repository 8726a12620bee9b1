"""The index_copy kernels (layers_cuda/index_copy.cu: Embed, BatchReindex, Filter), built for
the host (host_shim.h + g++ + ctypes), against the CPU layers and numpy oracles; plus the glue's
segment construction, error path and readback count on the emulated GPU."""
import contextlib

import numpy as np
import pytest

from caffeine.cuda_layers import index_copy_gpu
from caffeine.errors import DataError
from caffeine.testing import cuda_host
from caffeine.testing.emulated_gpu import emulated_gpu
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
F = np.float64
EMBED = 'type: "Embed" embed_param {{ num_output: {n} input_dim: {k} bias_term: {bias} ' \
        'weight_filler {{ type: "gaussian" }} bias_filler {{ type: "gaussian" }} }}'


def launch(name, n, *args, dtype=F, grid=3, block=4):
    cuda_host.launch("index_copy", name, n, args, dtype=dtype, grid=grid, block=block)


def rows_of(values, limit, exact, dtype=F):
    rows = np.zeros(values.size, dtype=I)
    launch("index_rows", values.size, np.ascontiguousarray(values.reshape(-1), dtype=dtype), I(limit),
           I(exact), rows, dtype=dtype)
    return rows


def segments_oracle(rows, out_rows):
    """Independent of the glue's sort key: numpy's stable argsort and searchsorted."""
    order = np.argsort(rows, kind="stable")
    starts = np.searchsorted(rows[order], np.arange(out_rows + 1))
    return order.astype(I), starts.astype(I)


def test_index_rows_embed_exact_and_reindex_truncation():
    v = np.array([0, 2, 4, 4.5, -0.5, 5, -1, np.nan, np.inf, -np.inf, 1e12, 3.999, -0.0])
    exact = rows_of(v, 5, 1)
    np.testing.assert_array_equal(exact, [0, 2, 4, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0])
    trunc = rows_of(v, 5, 0)  # static_cast<int>: 4.5 -> 4, -0.5 -> 0, 3.999 -> 3
    np.testing.assert_array_equal(trunc, [0, 2, 4, 4, 0, -1, -1, -1, -1, -1, -1, 3, 0])


@pytest.mark.parametrize("bias", [True, False])
def test_embed_kernels_match_the_cpu_layer(bias):
    rng = np.random.default_rng(0)
    K, N = 7, 3
    index = np.array([[3, 1, 3], [0, 3, 1]], dtype=F)  # repeated rows; rows 2, 4, 5, 6 never hit
    layer = make_layer(EMBED.format(n=N, k=K, bias=str(bias).lower()))
    bottom, top = [blob_from(index)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    w0 = rng.standard_normal((K, N))
    for p in layer.blobs:
        p.diff[...] = rng.standard_normal(p.shape)  # param diffs accumulate onto this
    start = [p.diff.copy() for p in layer.blobs]
    dy = rng.standard_normal(top[0].shape)
    top[0].diff[...] = dy
    layer.blobs[0].data[...] = w0
    layer.forward(bottom, top)
    layer.backward(top, [False], bottom)

    rows = rows_of(index, K, 1)
    y = np.zeros((index.size, N))
    b = layer.blobs[1].data.copy() if bias else w0
    launch("gather_rows", y.size, w0, rows, I(N), b, I(bias), y)
    np.testing.assert_array_equal(y.reshape(top[0].shape), top[0].data)

    order, starts = segments_oracle(rows, K)
    dw = start[0].copy()
    launch("segment_sum_rows", dw.size, np.ascontiguousarray(dy.reshape(-1, N)), order, starts, I(N), I(1), dw)
    np.testing.assert_array_equal(dw, layer.blobs[0].diff)  # same addition order as np.add.at
    np.testing.assert_array_equal(dw[[2, 4, 5, 6]], start[0][[2, 4, 5, 6]])
    if bias:
        chunk, M = 4, index.size
        partial = np.zeros((-(-M // chunk), N))
        launch("column_sum_partial", partial.size, dy.reshape(-1, N).copy(), I(M), I(N), I(chunk), partial)
        np.testing.assert_allclose(start[1] + partial.sum(axis=0), layer.blobs[1].diff, rtol=1e-14)


@pytest.mark.parametrize("permut", [[2, 0, 2, 2], [1.7, 0.2, 3.9], [0, 1, 2, 3]])
def test_batch_reindex_kernels_match_the_cpu_layer(permut):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 3))
    layer = make_layer('type: "BatchReindex"')
    bottom, top = blobs_from(x, np.array(permut)), empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(top[0].shape)
    top[0].diff[...] = dy
    bottom[0].diff[...] = 99.0  # overwritten, also for rows no top row came from
    layer.backward(top, [True, False], bottom)

    rows = rows_of(np.array(permut), 4, 0)
    y = np.zeros(top[0].shape)
    launch("gather_rows", y.size, x, rows, I(6), x, I(0), y)
    np.testing.assert_array_equal(y, top[0].data)
    order, starts = segments_oracle(rows, 4)
    dx = np.full(x.shape, 99.0)
    launch("segment_sum_rows", dx.size, dy, order, starts, I(6), I(0), dx)
    np.testing.assert_array_equal(dx, bottom[0].diff)


@pytest.mark.parametrize("selector", [[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]],
                         ids=["some", "all_dropped", "all_kept"])
def test_filter_kernels_match_the_cpu_layer_with_two_data_bottoms(selector):
    rng = np.random.default_rng(2)
    data = [rng.standard_normal((5, 3)), rng.standard_normal((5, 2, 2))]
    sel = np.array(selector, dtype=F).reshape(5, 1)
    layer = make_layer('type: "Filter"')
    bottom, top = blobs_from(*data, sel), empty_tops(2)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dys = [rng.standard_normal(t.shape) for t in top]
    for t, dy in zip(top, dys):
        t.diff[...] = dy
    for b in bottom[:2]:
        b.diff[...] = 99.0
    layer.backward(top, [True, True, False], bottom)

    rows = np.flatnonzero(sel).astype(I)
    positions = np.full(5, -1, dtype=I)
    positions[rows] = np.arange(len(rows))
    for x, t, b, dy in zip(data, top, bottom, dys):
        inner = x[0].size
        y = np.zeros((len(rows),) + x.shape[1:])
        launch("gather_rows", y.size, x, rows, I(inner), x, I(0), y)
        np.testing.assert_array_equal(y, t.data)
        dx = np.full(x.shape, 99.0)
        launch("gather_rows", dx.size, dy, positions, I(inner), dy, I(0), dx)
        np.testing.assert_array_equal(dx, b.diff)
        assert not dx[np.asarray(selector) == 0].any()


def test_float32_build_with_odd_grid_and_block():
    rng = np.random.default_rng(3)
    f = np.float32
    rows = np.array([4, 0, 4, 1, 4, -1, 0], dtype=I)
    src = rng.standard_normal((7, 5)).astype(f)
    order, starts = segments_oracle(rows, 6)
    out = np.zeros((6, 5), dtype=f)
    launch("segment_sum_rows", out.size, src, order, starts, I(5), I(0), out, dtype=f, grid=5, block=7)
    expected = np.zeros((6, 5), dtype=f)
    for i, r in enumerate(rows):
        if r >= 0:
            expected[r] += src[i]
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    partial = np.zeros((3, 5), dtype=f)
    launch("column_sum_partial", partial.size, src, I(7), I(5), I(3), partial, dtype=f, grid=2, block=3)
    np.testing.assert_allclose(partial.sum(axis=0), src.sum(axis=0), rtol=1e-5)
    y = np.zeros((7, 5), dtype=f)
    bias = rng.standard_normal(5).astype(f)
    launch("gather_rows", y.size, src, rows, I(5), bias, I(1), y, dtype=f, grid=5, block=7)
    np.testing.assert_array_equal(y, np.where(rows[:, None] >= 0, src[np.maximum(rows, 0)], 0) + bias)
    np.testing.assert_array_equal(rows_of(np.array([2, 2.5, 6, -1]), 6, 1, dtype=f), [2, -1, -1, -1])


def test_glue_segments_equal_a_stable_argsort():
    rows = np.random.default_rng(4).integers(-1, 6, size=40).astype(I)
    with emulated_gpu() as xp:
        order, starts = index_copy_gpu._segments(xp.asarray(rows), 6)
        order, starts = xp.asnumpy(order), xp.asnumpy(starts)
    valid = np.flatnonzero(rows >= 0)
    expected_order, expected_starts = segments_oracle(rows[valid], 6)
    np.testing.assert_array_equal(starts - starts[0], expected_starts)
    np.testing.assert_array_equal(order[starts[0]:], valid[expected_order])
    assert order.dtype == starts.dtype == np.int32


@pytest.mark.parametrize("text,arrays,blob", [
    (EMBED.format(n=2, k=4, bias="true"), [np.array([[1.0, 4.0]])], "b0"),
    (EMBED.format(n=2, k=4, bias="false"), [np.array([1.0, 2.5])], "b0"),
    ('type: "BatchReindex"', [np.zeros((3, 2)), np.array([0.0, -1.0])], "b1"),
    ('type: "BatchReindex"', [np.zeros((3, 2)), np.array([3.0])], "b1"),
])
def test_gpu_forward_raises_the_cpu_error(text, arrays, blob):
    messages = []
    for gpu in (False, True):
        layer = make_layer(text)
        bottom, top = blobs_from(*arrays, dtype=np.float32), empty_tops(1, dtype=np.float32)
        with emulated_gpu() if gpu else contextlib.nullcontext():
            layer.layer_setup(bottom, top)
            with pytest.raises(DataError) as err:
                layer.forward(bottom, top)
        assert err.value.blob == blob
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def test_one_readback_per_forward_none_in_backward():
    layer = make_layer(EMBED.format(n=3, k=5, bias="true"))
    bottom, top = [blob_from(np.array([[1.0, 4.0, 1.0]]), dtype=np.float32)], empty_tops(1, dtype=np.float32)
    with emulated_gpu() as xp:
        layer.layer_setup(bottom, top)
        layer.forward(bottom, top)
        top[0].gpu_diff[...] = 1.0
        for p in layer.blobs:
            p.gpu_diff  # params on the device before counting
        before = dict(xp.stats)
        layer.forward(bottom, top)
        after_forward = dict(xp.stats)
        layer.backward(top, [False], bottom)
        after_backward = dict(xp.stats)
        layer.backward(top, [False], bottom)  # param diffs accumulate
        dw, db = layer.blobs[0].diff.copy(), layer.blobs[1].diff.copy()
    assert after_forward["d2h"] - before["d2h"] == 1
    assert after_backward["d2h"] == after_forward["d2h"]
    assert after_backward["h2d"] == before["h2d"]
    np.testing.assert_array_equal(dw[[1, 4]], [[4.0] * 3, [2.0] * 3])
    np.testing.assert_array_equal(dw[[0, 2, 3]], 0)
    np.testing.assert_array_equal(db, [6.0] * 3)



@pytest.mark.parametrize("text,arrays,n_top", [
    ('type: "BatchReindex"', [np.arange(12.0).reshape(4, 3), np.array([2.0, 0, 2])], 1),  # rows 1, 3 not hit
    ('type: "Filter"', [np.arange(12.0).reshape(4, 3), np.array([0.0, 1, 0, 1])], 1),
])
def test_gpu_backward_overwrites_the_bottom_diff(text, arrays, n_top):
    results = []
    for gpu in (False, True):
        layer = make_layer(text)
        bottom, top = blobs_from(*arrays, dtype=np.float32), empty_tops(n_top, dtype=np.float32)
        with emulated_gpu() if gpu else contextlib.nullcontext():
            layer.layer_setup(bottom, top)
            layer.forward(bottom, top)
            top[0].diff[...] = np.arange(1.0, top[0].count + 1).reshape(top[0].shape)
            bottom[0].diff[...] = 99.0  # stale: must not survive anywhere
            layer.backward(top, [True, False], bottom)
            results.append(bottom[0].diff.copy())
    assert not (results[1] == 99.0).any()
    np.testing.assert_array_equal(results[1], results[0])
