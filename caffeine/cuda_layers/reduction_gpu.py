"""Reduction on the GPU (reduction.cu): (num, dim) rows reduced in two deterministic steps
(reduction_partial over chunks of REDUCE_CHUNK columns, then a (num, chunks) sum on the
device), times the layer's coeff (which holds MEAN's 1/dim, as in caffeine.layers.reduction)."""
from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, scalar, work

REDUCE_CHUNK = 256


def forward_gpu(layer, bottom, top):
    num, dim = layer.num, layer.dim
    y = top[0].gpu_data.reshape(num)
    if num == 0:
        return
    if dim == 0:
        y[...] = 0
        return
    chunks = -(-dim // REDUCE_CHUNK)
    partial = work(layer, "partial", (num, chunks), layer.dtype)
    run("reduction", "reduction_partial", num * chunks, data_ro(bottom[0]), i32(layer.op), i32(dim),
        i32(REDUCE_CHUNK), partial, dtype=layer.dtype)
    y[...] = partial.sum(axis=1) * scalar(layer.coeff, layer.dtype)


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    x = data_ro(bottom[0])
    run("reduction", "reduction_backward", x.size, x, diff_ro(top[0]), i32(layer.op), i32(layer.dim),
        scalar(layer.coeff, layer.dtype), bottom[0].gpu_diff, dtype=layer.dtype)
