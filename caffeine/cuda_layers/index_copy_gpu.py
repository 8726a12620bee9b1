"""Embed, BatchReindex and Filter on the GPU (index_copy.cu): row gathers forward, and
deterministic row scatters backward (no atomics; see the .cu file), with the CPU layers'
semantics (caffeine.layers.embed / batch_reindex / filter, Caffe 1.0's layers).

Host readbacks, the only ones these layers make:
- Embed and BatchReindex: one bool per forward, whether index_rows found an index out of
  range (or, for Embed, not an integer).  Only then are the indices read on the host, by the
  CPU layer's own check, which raises its DataError.  Caffe's BatchReindex reads the whole
  index blob on the host in every forward and backward; Caffe's Embed GPU code checks nothing
  (its CPU code only DCHECKs, in debug builds) and would read out of bounds; one flag keeps
  the CPU layer's error at the cost of one small synchronisation per forward.
- Filter: the selector, read on the host by FilterLayer.reshape, because the top shape
  depends on it (Caffe's FilterLayer reads the selector's cpu_data in Reshape and Forward).
  The selected rows go to the device once per change of the selection (device_ints).
Backward passes read nothing back: they rebuild the rows from the index blob on the device
(Caffe's backward reads the indices again too) and trust the check made in forward; an
invalid index there (only if the blob changed after forward) contributes nothing.
"""
import numpy as np

from caffeine.cuda_layers.launch import check_later, cp, data_ro, device_ints, diff_ro, i32, run, work

COLUMN_CHUNK = 128  # rows summed by one thread of column_sum_partial (Embed's bias diff)


def _rows(layer, blob, limit, exact):
    """Device int32 rows of an index blob; -1 marks an invalid index (see index_rows)."""
    rows = work(layer, "rows", (blob.count(),), np.int32)
    run("index_copy", "index_rows", rows.size, data_ro(blob), i32(limit), i32(exact), rows, dtype=layer.dtype)
    return rows


def _check(layer, rows, host_check, bottom):
    """Raise the CPU layer's error if any row is invalid (the flag is read back with the Net's
    loss at the end of its forward, launch.check_later)."""
    def fail():
        host_check(bottom)  # reads the indices on the host and raises the CPU layer's DataError
        raise RuntimeError(f"{layer.type} layer {layer.name}: the device index check found an invalid "
                           "index that the host check accepts")
    if rows.size:
        check_later((rows < 0).any(), fail)


def _segments(rows, out_rows):
    """(order, starts) for segment_sum_rows: the positions of ``rows`` sorted by row, ties in
    position order, and the start of each row 0..out_rows-1 in that list (plus the end).

    The sort key row * count + position is unique, so any sort algorithm (CuPy's, numpy's)
    gives this one order; -1 rows sort first and fall outside every segment.
    """
    xp = cp()
    count = max(rows.size, 1)
    keys = rows.astype(xp.int64) * count + xp.arange(rows.size, dtype=xp.int64)
    keys = xp.sort(keys)
    sorted_rows = keys // count  # floor division: -1 rows stay -1
    order = (keys - sorted_rows * count).astype(xp.int32)
    starts = xp.searchsorted(sorted_rows, xp.arange(out_rows + 1, dtype=xp.int64)).astype(xp.int32)
    return order, starts


# ---- Embed ----------------------------------------------------------------------------------
def embed_forward_gpu(layer, bottom, top):
    rows = _rows(layer, bottom[0], layer.K, exact=True)
    _check(layer, rows, layer._indices, bottom)
    weight = data_ro(layer.blobs[0])
    bias = data_ro(layer.blobs[1]) if layer.bias_term else weight  # unread without a bias
    run("index_copy", "gather_rows", top[0].count(), weight, rows, i32(layer.N), bias, i32(layer.bias_term),
        top[0].gpu_data, dtype=layer.dtype)


def embed_backward_gpu(layer, top, propagate_down, bottom):
    if propagate_down[0]:
        raise layer.error("can't backpropagate to Embed input (the indices)")
    dy = diff_ro(top[0])
    N, dt = layer.N, layer.dtype
    if layer.param_propagate_down[0]:
        order, starts = _segments(_rows(layer, bottom[0], layer.K, exact=True), layer.K)
        run("index_copy", "segment_sum_rows", layer.K * N, dy, order, starts, i32(N), i32(1),
            layer.blobs[0].gpu_diff, dtype=dt)  # accumulates: param diffs do
    if layer.bias_term and layer.param_propagate_down[1]:
        rows = dy.size // N
        chunks = -(-rows // COLUMN_CHUNK)
        partial = work(layer, "bias_partial", (chunks, N), dt)
        run("index_copy", "column_sum_partial", chunks * N, dy, i32(rows), i32(N), i32(COLUMN_CHUNK), partial,
            dtype=dt)
        bias_diff = layer.blobs[1].gpu_diff
        bias_diff += partial.sum(axis=0)


# ---- BatchReindex ---------------------------------------------------------------------------
def batch_reindex_forward_gpu(layer, bottom, top):
    rows = _rows(layer, bottom[1], bottom[0].shape[0], exact=False)
    _check(layer, rows, layer._indices, bottom)
    x = data_ro(bottom[0])
    run("index_copy", "gather_rows", top[0].count(), x, rows, i32(bottom[0].count(1)), x, i32(0),
        top[0].gpu_data, dtype=layer.dtype)


def batch_reindex_backward_gpu(layer, top, propagate_down, bottom):
    if propagate_down[1]:
        raise layer.error("BatchReindex cannot backpropagate to the index bottom")
    if not propagate_down[0]:
        return
    n = bottom[0].shape[0]
    inner = bottom[0].count(1)
    order, starts = _segments(_rows(layer, bottom[1], n, exact=False), n)
    # overwritten: a bottom row no top row came from gets 0, others the sum of their top rows
    run("index_copy", "segment_sum_rows", n * inner, diff_ro(top[0]), order, starts, i32(inner), i32(0),
        bottom[0].gpu_diff, dtype=layer.dtype)


# ---- Filter ---------------------------------------------------------------------------------
def filter_forward_gpu(layer, bottom, top):
    # layer.indices: the selected rows, from the selector that FilterLayer.reshape read on the
    # host (Layer.forward runs it just before this).
    rows = device_ints(layer, "filter_rows", layer.indices)
    for t, b in zip(top, bottom[:-1]):
        x = data_ro(b)
        run("index_copy", "gather_rows", t.count(), x, rows, i32(b.count(1)), x, i32(0), t.gpu_data,
            dtype=layer.dtype)


def filter_backward_gpu(layer, top, propagate_down, bottom):
    if propagate_down[-1]:
        raise layer.error("Filter cannot backpropagate to the selector (last) bottom")
    if not any(propagate_down[:-1]):
        return
    # each bottom row's position in the tops, -1 for a dropped row (its diff becomes 0)
    positions = np.full(bottom[-1].shape[0], -1, dtype=np.int64)
    positions[layer.indices] = np.arange(len(layer.indices))
    rows = device_ints(layer, "filter_positions", positions)
    for t, b, pd in zip(top, bottom[:-1], propagate_down):
        if pd:
            dy = diff_ro(t)
            run("index_copy", "gather_rows", b.count(), dy, rows, i32(b.count(1)), dy, i32(0), b.gpu_diff,
                dtype=layer.dtype)
