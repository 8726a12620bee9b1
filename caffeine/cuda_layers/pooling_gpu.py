"""Pooling on the GPU (pooling.cu): MAX with its argmax mask, AVE, STOCHASTIC.

The geometry (Caffe's ceil/floor output size, pad, global pooling) comes from the layer's
``pooler.geom`` (caffeine.layers.pooling_ops.PoolGeometry), so both paths pool the same
windows.  STOCHASTIC draws its uniforms on the device from a counter-based generator
seeded from the global generator (reproducible, but a different stream than the CPU's).
"""
import numpy as np

from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, seed, work
from caffeine.layers.pooling_ops import AVE, MAX



def _geometry(layer, bottom):
    g = layer.pooler.geom
    _, c, h, w = bottom[0].shape
    return (i32(c), i32(h), i32(w), i32(g.out_h), i32(g.out_w), i32(g.kernel_h), i32(g.kernel_w),
            i32(g.stride_h), i32(g.stride_w)), (i32(g.pad_h), i32(g.pad_w))


def forward_gpu(layer, bottom, top):
    geom, pad = _geometry(layer, bottom)
    x, y = data_ro(bottom[0]), top[0].gpu_data
    count, dt = y.size, layer.dtype
    if layer.method == MAX:
        mask = work(layer, "mask", y.shape, np.int32)
        run("pooling", "max_pool_forward", count, x, *geom, *pad, y, mask, dtype=dt)
        if len(top) > 1:
            top[1].gpu_data[...] = mask
    elif layer.method == AVE:
        run("pooling", "ave_pool_forward", count, x, *geom, *pad, y, dtype=dt)
    elif layer.pooler.train:
        rand = work(layer, "rand", y.shape, dt)
        run("pooling", "pool_uniform", count, seed(layer), rand, dtype=dt)
        mask = work(layer, "mask", y.shape, np.int32)
        run("pooling", "sto_pool_forward_train", count, x, rand, *geom, y, mask, dtype=dt)
    else:
        sums = work(layer, "sums", y.shape, dt)
        sumsqs = work(layer, "sumsqs", y.shape, dt)
        run("pooling", "sto_pool_forward_test", count, x, *geom, y, sums, sumsqs, dtype=dt)


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    geom, pad = _geometry(layer, bottom)
    dy, dx = diff_ro(top[0]), bottom[0].gpu_diff
    count, dt = dx.size, layer.dtype
    if layer.method == MAX:
        mask = layer._gpu_work["mask"]
        run("pooling", "max_pool_backward", count, dy, mask, *geom, *pad, dx, dtype=dt)
    elif layer.method == AVE:
        run("pooling", "ave_pool_backward", count, dy, *geom, *pad, dx, dtype=dt)
    elif layer.pooler.train:
        mask = layer._gpu_work["mask"]
        run("pooling", "sto_pool_backward_train", count, dy, mask, *geom, dx, dtype=dt)
    else:
        w = layer._gpu_work
        run("pooling", "sto_pool_backward_test", count, data_ro(bottom[0]), dy, w["sums"], w["sumsqs"],
            *geom, dx, dtype=dt)
