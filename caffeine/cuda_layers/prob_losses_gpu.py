"""InfogainLoss and MultinomialLogisticLoss on the GPU (prob_losses.cu).

Same semantics as the CPU layers (caffeine.layers.infogain_loss, .multinomial_logistic_loss):
InfogainLoss applies a softmax over its axis first (softmax.cu's softmax_forward, as later
Caffe does), takes H from its third bottom or from infogain_loss_param.source (uploaded once),
skips ignore_label and divides by LossLayer's normalizer; MultinomialLogisticLoss takes
probabilities and divides by num.  Both floor probabilities at kLOG_THRESHOLD = 1e-20.

The per-position losses are summed on the device (a fixed-order CuPy reduction, no atomics)
and VALID's normalizer (the count of labels that count) stays there too; backward reads the
loss weight from top[0]'s device diff.  One small readback per forward remains, as in
SoftmaxWithLoss: whether any per-position loss is NaN (the kernels give a bad label a NaN loss
and gradient); only then are the labels read on the host, so a bad label raises the CPU layer's
DataError, while a NaN from diverged inputs goes on to the solver's divergence guard.
"""
from caffeine.cuda_layers.launch import cp, data_ro, diff_ro, i32, run, work
from caffeine.cuda_layers.loss_common import (finish_softmax_loss, ignore_args, raise_on_bad_labels,
                                              softmax_probabilities)
from caffeine.layers.labels import label_backprop_error, prediction_gradient_wanted


def _infogain_matrix(layer, bottom):
    """H on the device: the third bottom, or the source matrix uploaded once."""
    if layer.infogain is None:
        return data_ro(bottom[2])
    cached = layer.__dict__.get("_gpu_infogain")
    if cached is None or cached[0] is not layer.infogain:
        cached = layer._gpu_infogain = (layer.infogain, cp().asarray(layer.infogain))
    return cached[1]


# ---- InfogainLoss ---------------------------------------------------------------------------
def infogain_forward_gpu(layer, bottom, top):
    outer, channels, inner = layer.dims
    dt = layer.dtype
    prob = softmax_probabilities(layer, bottom)
    loss = work(layer, "loss", (outer * inner,), dt)
    valid = work(layer, "valid", (outer * inner,), dt)
    run("prob_losses", "infogain_loss_forward", outer * inner, prob, data_ro(bottom[1]),
        _infogain_matrix(layer, bottom), i32(channels), i32(inner), *ignore_args(layer), loss, valid, dtype=dt)
    raise_on_bad_labels(layer, loss, bottom[1], channels, layer.ignore_label)
    finish_softmax_loss(layer, top, loss, prob, valid.sum())


def infogain_backward_gpu(layer, top, propagate_down, bottom):
    wanted = prediction_gradient_wanted(layer, propagate_down)
    if len(propagate_down) > 2 and propagate_down[2]:
        raise label_backprop_error(layer, "infogain")
    if not wanted:
        return
    outer, channels, inner = layer.dims
    dt = layer.dtype
    h = _infogain_matrix(layer, bottom)
    row_sums = work(layer, "row_sums", (channels,), dt)
    run("prob_losses", "infogain_row_sums", channels, h, row_sums, dtype=dt)
    scale = (diff_ro(top[0]).reshape(-1)[:1] / layer._gpu_norm).astype(dt)
    dx = bottom[0].gpu_diff
    run("prob_losses", "infogain_loss_backward", dx.size, layer._gpu_work["prob"], data_ro(bottom[1]), h,
        row_sums, i32(channels), i32(inner), *ignore_args(layer), scale, dx, dtype=dt)


# ---- MultinomialLogisticLoss ----------------------------------------------------------------
def mll_forward_gpu(layer, bottom, top):
    num = bottom[0].num
    dim = bottom[0].count() // num if num else 0
    dt = layer.dtype
    loss = work(layer, "loss", (num,), dt)
    run("prob_losses", "mll_forward", num, data_ro(bottom[0]), data_ro(bottom[1]), i32(dim), loss, dtype=dt)
    raise_on_bad_labels(layer, loss, bottom[1], dim)
    top[0].gpu_data[...] = loss.sum(dtype=cp().float64) / num


def mll_backward_gpu(layer, top, propagate_down, bottom):
    if not prediction_gradient_wanted(layer, propagate_down):
        return
    num = bottom[0].num
    dx = bottom[0].gpu_diff
    dim = dx.size // num if num else 0
    run("prob_losses", "mll_backward", dx.size, data_ro(bottom[0]), data_ro(bottom[1]), i32(dim), i32(num),
        diff_ro(top[0]).reshape(-1)[:1], dx, dtype=layer.dtype)
