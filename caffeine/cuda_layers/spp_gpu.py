"""Spatial pyramid pooling on the GPU with the Pooling kernels (pooling.cu) and concat.cu.

Caffe's SPPLayer runs split -> (pooling -> flatten) per level -> concat.  Here each level
of caffeine.layers.spp (its ``Pooler.geom``: kernel = stride = ceil(size / 2^l), Caffe's pad)
is pooled into a device scratch blob (N, C, out_h, out_w), whose flattened rows concat_copy
writes into the level's columns of the (N, sum of levels) top; with pyramid_height 1 the
level pools straight into the (N, C, 1, 1) top, as in Caffe.

Backward copies each level's columns of the top diff out (concat_copy backward), routes
them through that level's pooling backward kernel (MAX through its mask, AVE by Caffe's
divisor, STOCHASTIC through its sample or, in TEST, the exact derivative as on the CPU),
and sums the levels into the bottom diff in level order: level 0 writes it (overwriting,
as bottom diffs are), every later level is added elementwise -- deterministic, no atomics.
STOCHASTIC draws its uniforms on the device (pooling.cu's pool_uniform), so its samples
differ from the CPU path's, as for the Pooling layer.
"""
import numpy as np

from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, seed, work
from caffeine.layers.pooling_ops import AVE, MAX


def _geometry(pooler, channels):
    g = pooler.geom
    return (i32(channels), i32(g.height), i32(g.width), i32(g.out_h), i32(g.out_w), i32(g.kernel_h),
            i32(g.kernel_w), i32(g.stride_h), i32(g.stride_w)), (i32(g.pad_h), i32(g.pad_w))


def _concat(forward, level_size, total, offset):
    """concat_copy's arguments for one level: (N, level_size) <-> columns of (N, total)."""
    return i32(forward), i32(1), i32(total), i32(level_size), i32(offset)


def forward_gpu(layer, bottom, top):
    x = data_ro(bottom[0])
    n, c = x.shape[:2]
    dt = layer.dtype
    y_top = top[0].gpu_data
    total = y_top.size // n if n else 0
    single = layer.height_levels == 1
    for l, (pooler, cols, shape) in enumerate(layer._level_slices(n, c)):
        y = y_top if single else work(layer, f"level{l}", shape, dt)
        geom, pad = _geometry(pooler, c)
        count = y.size
        if pooler.method == MAX:
            mask = work(layer, f"mask{l}", shape, np.int32)
            run("pooling", "max_pool_forward", count, x, *geom, *pad, y, mask, dtype=dt)
        elif pooler.method == AVE:
            run("pooling", "ave_pool_forward", count, x, *geom, *pad, y, dtype=dt)
        elif pooler.train:  # STOCHASTIC: the layer refuses padded levels for it
            rand = work(layer, f"rand{l}", shape, dt)
            run("pooling", "pool_uniform", count, seed(layer), rand, dtype=dt)
            mask = work(layer, f"mask{l}", shape, np.int32)
            run("pooling", "sto_pool_forward_train", count, x, rand, *geom, y, mask, dtype=dt)
        else:
            sums, sumsqs = work(layer, f"sums{l}", shape, dt), work(layer, f"sumsqs{l}", shape, dt)
            run("pooling", "sto_pool_forward_test", count, x, *geom, y, sums, sumsqs, dtype=dt)
        if not single:
            size = cols.stop - cols.start
            run("concat", "concat_copy", count, y, *_concat(1, size, total, cols.start), y_top, dtype=dt)


def _level_backward(layer, l, pooler, c, dy, x, dx):
    """dx = this level's gradient (overwritten) from its (N, C, out_h, out_w) top diff dy."""
    geom, pad = _geometry(pooler, c)
    count, dt, w = dx.size, layer.dtype, layer.__dict__.get("_gpu_work", {})
    if pooler.method == MAX:
        run("pooling", "max_pool_backward", count, dy, w[f"mask{l}"], *geom, *pad, dx, dtype=dt)
    elif pooler.method == AVE:
        run("pooling", "ave_pool_backward", count, dy, *geom, *pad, dx, dtype=dt)
    elif pooler.train:
        run("pooling", "sto_pool_backward_train", count, dy, w[f"mask{l}"], *geom, dx, dtype=dt)
    else:
        run("pooling", "sto_pool_backward_test", count, x, dy, w[f"sums{l}"], w[f"sumsqs{l}"], *geom, dx,
            dtype=dt)


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    x = data_ro(bottom[0])
    n, c = x.shape[:2]
    dt = layer.dtype
    dy_top = diff_ro(top[0])
    total = dy_top.size // n if n else 0
    dx = bottom[0].gpu_diff
    single = layer.height_levels == 1
    for l, (pooler, cols, shape) in enumerate(layer._level_slices(n, c)):
        if single:
            dy = dy_top
        else:
            dy = work(layer, f"level{l}", shape, dt)  # the forward's level output is no longer needed
            size = cols.stop - cols.start
            run("concat", "concat_copy", dy.size, dy_top, *_concat(0, size, total, cols.start), dy, dtype=dt)
        if l == 0:
            _level_backward(layer, l, pooler, c, dy, x, dx)
        else:
            part = work(layer, "level_dx", dx.shape, dt)
            _level_backward(layer, l, pooler, c, dy, x, part)
            dx += part  # levels summed in order, as the CPU layer's accumulate=True
