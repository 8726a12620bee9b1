"""Softmax and SoftmaxWithLoss on the GPU (softmax.cu).

The loss stays on the device: per-position losses and counts are summed there and the
normalizer (VALID: the number of counted labels) is a device value, as is the backward
scale loss_weight / normalizer.  One small readback per forward remains: whether any label
is out of range, so a bad label raises the same DataError as on the CPU (Caffe's GPU code
would read out of bounds instead).
"""
from caffeine.cuda_layers.launch import check_later, data_ro, diff_ro, i32, run, work
from caffeine.cuda_layers.loss_common import finish_softmax_loss, ignore_args, softmax_probabilities
from caffeine.layers.labels import read_labels


def softmax_forward_gpu(layer, bottom, top):
    outer, channels, inner = layer.dims
    run("softmax", "softmax_forward", outer * inner, data_ro(bottom[0]), i32(channels), i32(inner),
        top[0].gpu_data, dtype=layer.dtype)


def softmax_backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    outer, channels, inner = layer.dims
    run("softmax", "softmax_backward", outer * inner, data_ro(top[0]), diff_ro(top[0]), i32(channels),
        i32(inner), bottom[0].gpu_diff, dtype=layer.dtype)


def loss_forward_gpu(layer, bottom, top):
    outer, channels, inner = layer.dims
    dt = layer.dtype
    prob = softmax_probabilities(layer, bottom)
    loss = work(layer, "loss", (outer * inner,), dt)
    counts = work(layer, "counts", (outer * inner,), dt)
    label = data_ro(bottom[1])
    run("softmax", "softmax_loss_forward", outer * inner, prob, label, i32(channels), i32(inner),
        *ignore_args(layer), loss, counts, dtype=dt)
    # a bad label raises the CPU's DataError (the flag is read back with the Net's loss)
    check_later((counts < 0).any(), lambda: read_labels(layer, bottom[1], channels, layer.ignore_label))
    finish_softmax_loss(layer, top, loss, prob, counts.sum())


def loss_backward_gpu(layer, top, propagate_down, bottom):
    from caffeine.layers.labels import prediction_gradient_wanted
    if not prediction_gradient_wanted(layer, propagate_down):
        return
    outer, channels, inner = layer.dims
    dt = layer.dtype
    scale = (diff_ro(top[0]).reshape(-1)[:1] / layer._gpu_norm).astype(dt)
    run("softmax", "softmax_loss_backward", bottom[0].gpu_diff.size, layer._gpu_work["prob"],
        data_ro(bottom[1]), i32(channels), i32(inner), *ignore_args(layer), scale, bottom[0].gpu_diff, dtype=dt)
