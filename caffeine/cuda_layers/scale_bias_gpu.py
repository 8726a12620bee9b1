"""Scale and Bias on the GPU (scale_bias.cu).

The blob is seen as (outer, dim, inner) (the layer's ``dims`` from reshape).  Parameter
gradients are per-channel sums over (outer, inner), reduced deterministically in two steps
(sb_reduce over chunks of REDUCE_CHUNK positions, then a (dim, chunks) sum on the device),
as in batch_norm_gpu.  Semantics follow caffeine.layers.scale / bias: param diffs
accumulate, a second bottom's diff is overwritten, an in-place Scale keeps a device copy of
its input for the scale gradient (Caffe's temp_).
"""
from caffeine.cuda_layers.launch import data_ro, diff_ro, i32, run, work

REDUCE_CHUNK = 256
SUM, DOT = 0, 1


def _channel_sums(layer, mode, a, b=None):
    outer, dim, inner = layer.dims
    chunks = max(1, -(-(outer * inner) // REDUCE_CHUNK))
    partial = work(layer, f"partial{mode}", (dim, chunks), layer.dtype)
    run("scale_bias", "sb_reduce", dim * chunks, a, b if b is not None else a, i32(mode), i32(outer),
        i32(dim), i32(inner), i32(REDUCE_CHUNK), partial, dtype=layer.dtype)
    return partial.sum(axis=1)


# ---- Scale ----------------------------------------------------------------------------------
def scale_forward_gpu(layer, bottom, top):
    _, dim, inner = layer.dims
    x = data_ro(bottom[0])
    layer._gpu_bottom_copy = x.copy() if top[0] is bottom[0] else None
    s = data_ro(layer._operand(bottom))
    b = data_ro(layer.blobs[-1]) if layer.bias_term else s
    run("scale_bias", "scale_forward", x.size, x, s, b, i32(1 if layer.bias_term else 0), i32(dim), i32(inner),
        top[0].gpu_data, dtype=layer.dtype)


def scale_backward_gpu(layer, top, propagate_down, bottom):
    _, dim, inner = layer.dims
    dy = diff_ro(top[0])
    # parameter gradients first: in place, writing the bottom diff overwrites the top diff
    if layer.bias_term and layer.param_propagate_down[-1]:
        layer.blobs[-1].gpu_diff.reshape(dim)[...] += _channel_sums(layer, SUM, dy)
    scale = layer._operand(bottom)
    if layer._operand_wants_grad(bottom, propagate_down):
        x = layer._gpu_bottom_copy if top[0] is bottom[0] else data_ro(bottom[0])
        if x is None:
            raise layer.error("backward called before an in-place forward")
        grad = _channel_sums(layer, DOT, dy, x)
        layer._store_operand_grad(bottom, scale.gpu_diff.reshape(dim), grad)
    if propagate_down[0]:
        s = data_ro(scale)
        run("scale_bias", "scale_forward", dy.size, dy, s, s, i32(0), i32(dim), i32(inner), bottom[0].gpu_diff,
            dtype=layer.dtype)


# ---- Bias -----------------------------------------------------------------------------------
def bias_forward_gpu(layer, bottom, top):
    _, dim, inner = layer.dims
    x = data_ro(bottom[0])
    run("scale_bias", "bias_forward", x.size, x, data_ro(layer._operand(bottom)), i32(dim), i32(inner),
        top[0].gpu_data, dtype=layer.dtype)


def bias_backward_gpu(layer, top, propagate_down, bottom):
    _, dim, _ = layer.dims
    dy = diff_ro(top[0])
    if layer._operand_wants_grad(bottom, propagate_down):
        grad = _channel_sums(layer, SUM, dy)
        layer._store_operand_grad(bottom, layer._operand(bottom).gpu_diff.reshape(dim), grad)
    if propagate_down[0] and top[0] is not bottom[0]:
        bottom[0].gpu_diff[...] = dy
