"""Pieces the GPU loss layers share (softmax_gpu, losses_gpu, prob_losses_gpu)."""
import numpy as np

from caffeine.cuda_layers.launch import check_later, cp, data_ro, i32, run, work
from caffeine.layers.labels import read_labels


def ignore_args(layer):
    """The (has_ignore, ignore_label) kernel arguments of a loss with an optional ignore_label."""
    return (i32(1), i32(layer.ignore_label)) if layer.ignore_label is not None else (i32(0), i32(0))


def device_normalizer(layer, outer, inner, valid_count):
    """LossLayer.normalizer with VALID's count left on the device (``valid_count``, a device
    scalar), so the loss is divided without reading anything back."""
    if layer.normalization == layer.caffe_pb2.LossParameter.VALID:
        return cp().maximum(valid_count, 1.0)
    return layer.normalizer(layer.normalization, outer, inner, -1)


def softmax_probabilities(layer, bottom):
    """softmax.cu's channel softmax of bottom[0] into the layer's "prob" scratch array."""
    outer, channels, inner = layer.dims
    prob = work(layer, "prob", bottom[0].shape, layer.dtype)
    run("softmax", "softmax_forward", outer * inner, data_ro(bottom[0]), i32(channels), i32(inner), prob,
        dtype=layer.dtype)
    return prob


def raise_on_bad_labels(layer, loss, label_blob, channels, ignore_label=None):
    """A NaN loss term may be a bad label (the kernels give one a NaN); only then are the labels
    read on the host, raising the CPU layer's DataError.  The flag is read back with the loss
    at the end of a Net forward (launch.check_later)."""
    check_later(cp().isnan(loss).any(), lambda: read_labels(layer, label_blob, channels, ignore_label))


def finish_softmax_loss(layer, top, loss, prob, valid_count):
    """The end of a softmax-based loss forward (SoftmaxWithLoss, InfogainLoss), as the CPU's
    SoftmaxLossBase.finish_forward: the normalizer kept on the device for backward, top[0] =
    the sum of the per-position ``loss`` / normalizer, the probabilities into top[1]."""
    outer, _, inner = layer.dims
    layer._gpu_norm = device_normalizer(layer, outer, inner, valid_count)
    top[0].gpu_data[...] = loss.sum(dtype=np.float64) / layer._gpu_norm
    if len(top) >= 2:
        top[1].gpu_data[...] = prob
