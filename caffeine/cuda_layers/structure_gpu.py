"""Concat, Slice, Crop, Tile and Eltwise on the GPU (concat/slice/crop/tile/eltwise.cu)."""
import numpy as np

from caffeine.cuda_layers.launch import data_ro, device_ints, diff_ro, i32, run, scalar, work


# ---- Concat ---------------------------------------------------------------------------------
def concat_forward_gpu(layer, bottom, top):
    if len(bottom) == 1:
        return  # top shares the bottom's memory
    _concat(layer, bottom, top, [True] * len(bottom), forward=True)


def concat_backward_gpu(layer, top, propagate_down, bottom):
    if len(bottom) == 1:
        return
    _concat(layer, bottom, top, propagate_down, forward=False)


def _concat(layer, bottom, top, wanted, forward):
    axis = layer.axis
    concat_size = top[0].count(axis + 1)
    top_axis = top[0].shape[axis]
    offset = 0
    for b, want in zip(bottom, wanted):
        n = b.shape[axis]
        if want and b.count():
            src, dst = (data_ro(b), top[0].gpu_data) if forward else (top[0].gpu_diff, b.gpu_diff)
            run("concat", "concat_copy", b.count(), src, i32(forward), i32(concat_size), i32(top_axis),
                i32(n), i32(offset), dst, dtype=layer.dtype)
        offset += n


# ---- Slice ----------------------------------------------------------------------------------
def slice_forward_gpu(layer, bottom, top):
    if len(top) == 1:
        return
    _slice(layer, bottom, top, forward=True)


def slice_backward_gpu(layer, top, propagate_down, bottom):
    if len(top) == 1 or not propagate_down[0]:
        return
    _slice(layer, bottom, top, forward=False)


def _slice(layer, bottom, top, forward):
    axis = layer.axis
    slice_size = bottom[0].count(axis + 1)
    bottom_axis = bottom[0].shape[axis]
    for t, (start, end) in zip(top, layer.bounds):
        if not t.count():
            continue
        src, dst = (data_ro(bottom[0]), t.gpu_data) if forward else (t.gpu_diff, bottom[0].gpu_diff)
        run("slice", "slice_copy", t.count(), src, i32(forward), i32(slice_size), i32(bottom_axis),
            i32(end - start), i32(start), dst, dtype=layer.dtype)


# ---- Crop -----------------------------------------------------------------------------------
def _crop_geometry(layer, bottom, top):
    shape = bottom[0].shape
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    offsets = [s.start for s in layer.index]
    return i32(len(shape)), device_ints(layer, "crop_geom", tuple(top[0].shape) + tuple(strides) + tuple(offsets))


def crop_forward_gpu(layer, bottom, top):
    run("crop", "crop_forward", top[0].count(), data_ro(bottom[0]), *_crop_geometry(layer, bottom, top),
        top[0].gpu_data, dtype=layer.dtype)


def crop_backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    diff = bottom[0].gpu_diff
    diff.fill(0)
    run("crop", "crop_backward", top[0].count(), diff_ro(top[0]), *_crop_geometry(layer, bottom, top), diff,
        dtype=layer.dtype)


# ---- Tile -----------------------------------------------------------------------------------
def tile_forward_gpu(layer, bottom, top):
    run("tile", "tile_forward", top[0].count(), data_ro(bottom[0]), i32(layer.tiles), i32(layer.inner),
        top[0].gpu_data, dtype=layer.dtype)


def tile_backward_gpu(layer, top, propagate_down, bottom):
    if propagate_down[0]:
        run("tile", "tile_backward", bottom[0].count(), diff_ro(top[0]), i32(layer.tiles), i32(layer.inner),
            bottom[0].gpu_diff, dtype=layer.dtype)


# ---- Eltwise --------------------------------------------------------------------------------
def _ops(layer):
    E = layer.caffe_pb2.EltwiseParameter
    return E.PROD, E.SUM, E.MAX


def eltwise_forward_gpu(layer, bottom, top):
    PROD, SUM, _ = _ops(layer)
    out = top[0].gpu_data
    n, dt = out.size, layer.dtype
    if layer.op == PROD:
        run("eltwise", "eltwise_mul", n, data_ro(bottom[0]), data_ro(bottom[1]), out, dtype=dt)
        for b in bottom[2:]:
            run("eltwise", "eltwise_mul", n, out, data_ro(b), out, dtype=dt)
    elif layer.op == SUM:
        for i, (b, c) in enumerate(zip(bottom, layer.coeff)):
            run("eltwise", "eltwise_axpy", n, scalar(c, dt), data_ro(b), i32(i == 0), out, dtype=dt)
    else:
        mask = work(layer, "mask", out.shape, np.int32)
        run("eltwise", "eltwise_max_forward", n, data_ro(bottom[0]), data_ro(bottom[1]), i32(0), out, mask,
            dtype=dt)
        for i in range(2, len(bottom)):
            run("eltwise", "eltwise_max_forward", n, out, bottom[i].gpu_data, i32(i), out, mask, dtype=dt)


def eltwise_backward_gpu(layer, top, propagate_down, bottom):
    PROD, SUM, _ = _ops(layer)
    dy = diff_ro(top[0])
    n, dt = dy.size, layer.dtype
    for i, (b, pd) in enumerate(zip(bottom, propagate_down)):
        if not pd:
            continue
        dx = b.gpu_diff
        if layer.op == PROD:
            if layer.stable_prod_grad:
                others = [o.gpu_data for j, o in enumerate(bottom) if j != i]
                product = work(layer, "product", dy.shape, dt)
                product[...] = others[0]
                for o in others[1:]:
                    run("eltwise", "eltwise_mul", n, product, o, product, dtype=dt)
                run("eltwise", "eltwise_mul", n, product, dy, dx, dtype=dt)
            else:
                run("eltwise", "eltwise_prod_backward", n, data_ro(top[0]), data_ro(b), dy, dx, dtype=dt)
        elif layer.op == SUM:
            run("eltwise", "eltwise_axpy", n, scalar(layer.coeff[i], dt), dy, i32(1), dx, dtype=dt)
        else:
            run("eltwise", "eltwise_max_backward", n, dy, layer._gpu_work["mask"], i32(i), dx, dtype=dt)


# ---- Split, Flatten, Reshape, Silence: no kernel needed, but no host round trip either ----
def split_forward_gpu(layer, bottom, top):
    """The tops share the bottom's data (set up in reshape): nothing to do."""


def split_backward_gpu(layer, top, propagate_down, bottom):
    """bottom diff = sum of the tops' diffs, on the device (Caffe's caffe_gpu_add)."""
    if not propagate_down[0]:
        return
    diff = bottom[0].gpu_diff
    diff[...] = diff_ro(top[0])
    for t in top[1:]:
        diff += diff_ro(t)


def view_forward_gpu(layer, bottom, top):
    """Flatten/Reshape: the top shares the bottom's data and diff: nothing moves."""


def view_backward_gpu(layer, top, propagate_down, bottom):
    """Flatten/Reshape: the diff is shared too."""


def silence_backward_gpu(layer, top, propagate_down, bottom):
    for b, pd in zip(bottom, propagate_down):
        if pd:
            b.gpu_diff.fill(0)
