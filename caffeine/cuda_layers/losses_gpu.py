"""Euclidean, SigmoidCrossEntropy, Contrastive and Hinge losses on the GPU (losses.cu).

The loss value is summed on the device into top[0]; the backward scale (loss weight over
the normalizer) is computed on the device from top[0].gpu_diff and handed to the kernels
as a pointer, so neither direction reads anything back (except Hinge's label check, as
SoftmaxWithLoss's: one flag per forward).
"""
from caffeine.cuda_layers.launch import check_later, cp, data_ro, diff_ro, i32, run, scalar, work
from caffeine.cuda_layers.loss_common import device_normalizer, ignore_args
from caffeine.layers.labels import label_backprop_error, prediction_gradient_wanted, read_labels


def _weight(top, dt):
    """top[0]'s diff (the loss weight) as a 1-element device array."""
    return top[0].gpu_diff.reshape(-1)[:1].astype(dt)


# ---- EuclideanLoss: 1/(2N) sum (a - b)^2 ----------------------------------------------------
def euclidean_forward_gpu(layer, bottom, top):
    xp = cp()
    a = data_ro(bottom[0])
    diff = work(layer, "diff", a.shape, layer.dtype)
    run("losses", "euclidean_diff", a.size, a, data_ro(bottom[1]), diff, dtype=layer.dtype)
    flat = diff.reshape(-1)
    top[0].gpu_data[...] = xp.dot(flat, flat) / bottom[0].num / 2


def euclidean_backward_gpu(layer, top, propagate_down, bottom):
    dt = layer.dtype
    weight = _weight(top, dt)
    diff = layer._gpu_work["diff"]
    for i, sign in ((0, 1.0), (1, -1.0)):
        if propagate_down[i]:
            run("losses", "scale_by_device_scalar", diff.size, diff, weight, scalar(sign / bottom[i].num, dt),
                bottom[i].gpu_diff, dtype=dt)


# ---- SigmoidCrossEntropyLoss ----------------------------------------------------------------
def sigmoid_ce_forward_gpu(layer, bottom, top):
    xp = cp()
    x = data_ro(bottom[0])
    dt = layer.dtype
    loss = work(layer, "loss", x.shape, dt)
    valid = work(layer, "valid", x.shape, dt)
    run("losses", "sigmoid_ce_forward", x.size, x, data_ro(bottom[1]), *ignore_args(layer), loss, valid, dtype=dt)
    outer = bottom[0].num
    inner = bottom[0].count() // outer if outer else 0
    layer._gpu_norm = device_normalizer(layer, outer, inner,
                                        valid.sum() if layer.ignore_label is not None else x.size)
    top[0].gpu_data[...] = loss.sum(dtype=xp.float64) / layer._gpu_norm


def sigmoid_ce_backward_gpu(layer, top, propagate_down, bottom):
    if not prediction_gradient_wanted(layer, propagate_down):
        return
    dt = layer.dtype
    scale = (diff_ro(top[0]).reshape(-1)[:1] / layer._gpu_norm).astype(dt)
    x = data_ro(bottom[0])
    run("losses", "sigmoid_ce_backward", x.size, x, data_ro(bottom[1]), layer._gpu_work["valid"], scale,
        bottom[0].gpu_diff, dtype=dt)


# ---- ContrastiveLoss ------------------------------------------------------------------------
def contrastive_forward_gpu(layer, bottom, top):
    num = bottom[0].num
    channels = bottom[0].count() // num if num else 0
    dt = layer.dtype
    diff = work(layer, "diff", (num, channels), dt)
    dist_sq = work(layer, "dist_sq", (num,), dt)
    loss = work(layer, "loss", (num,), dt)
    run("losses", "contrastive_forward", num, data_ro(bottom[0]), data_ro(bottom[1]), data_ro(bottom[2]),
        i32(channels), scalar(layer.margin, dt), i32(layer.legacy), diff, dist_sq, loss, dtype=dt)
    top[0].gpu_data[...] = loss.sum(dtype=cp().float64) / num / 2


def contrastive_backward_gpu(layer, top, propagate_down, bottom):
    if propagate_down[2]:
        raise label_backprop_error(layer, "similarity")
    dt = layer.dtype
    weight = _weight(top, dt)
    w = layer._gpu_work
    channels = w["diff"].shape[1]
    for i, sign in ((0, 1.0), (1, -1.0)):
        if propagate_down[i]:
            run("losses", "contrastive_backward", w["diff"].size, w["diff"], w["dist_sq"], data_ro(bottom[2]),
                i32(channels), scalar(layer.margin, dt), i32(layer.legacy), weight,
                scalar(sign / bottom[i].num, dt), bottom[i].gpu_diff, dtype=dt)


# ---- HingeLoss ------------------------------------------------------------------------------
def hinge_forward_gpu(layer, bottom, top):
    xp = cp()
    num = bottom[0].num
    dim = bottom[0].count() // num if num else 0
    dt = layer.dtype
    margin = work(layer, "margin", (num, dim), dt)
    state = work(layer, "state", (num,), dt)
    run("losses", "hinge_forward", num * dim, data_ro(bottom[0]), data_ro(bottom[1]), i32(dim), margin, state,
        dtype=dt)
    if num:  # a bad label raises the CPU's DataError (the flag is read back with the Net's loss)
        check_later(~state.all(), lambda: read_labels(layer, bottom[1], dim))
    flat = margin.reshape(-1)
    loss = xp.dot(flat, flat) if layer.norm_l2 else flat.sum()
    top[0].gpu_data[...] = loss / num


def hinge_backward_gpu(layer, top, propagate_down, bottom):
    if not prediction_gradient_wanted(layer, propagate_down):
        return
    dt = layer.dtype
    num = bottom[0].num
    margin = layer._gpu_work["margin"]
    scale = (diff_ro(top[0]).reshape(-1)[:1] / num).astype(dt)
    run("losses", "hinge_backward", margin.size, margin, data_ro(bottom[1]), i32(margin.shape[1]),
        i32(layer.norm_l2), scale, bottom[0].gpu_diff, dtype=dt)
