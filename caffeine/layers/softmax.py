"""Softmax over one axis (Caffe's SoftmaxLayer, softmax_param.axis, default 1).

The blob is seen as (outer, channels, inner) with channels = shape[axis]; the
max over the channels is subtracted before exp, as Caffe does, so large inputs
do not overflow.  Backward (Caffe's formula, with y the output):
    dx = (dy - sum_c(dy * y)) * y
In-place is allowed: backward only reads the top's data and diff.
"""
import numpy as np

from caffeine.cuda_layers import softmax_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.layers.labels import canonical_axis


def softmax(x, axis=1):
    """Numerically stable softmax of an array along ``axis`` (numpy or cupy)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))  # ufunc: dispatches to cupy too
    e /= e.sum(axis=axis, keepdims=True)
    return e


def split_axis(blob, axis):
    """(outer, channels, inner) of a blob around ``axis``."""
    return blob.count(0, axis), blob.shape[axis], blob.count(axis + 1)


@register_layer("Softmax")
class SoftmaxLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1
    allow_inplace = True

    def reshape(self, bottom, top):
        self.axis = canonical_axis(self, bottom[0], self.layer_param.softmax_param.axis,
                                   "softmax_param.axis")
        self.dims = split_axis(bottom[0], self.axis)
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def forward_cpu(self, bottom, top):
        x = bottom[0].host_data_readonly.reshape(self.dims)
        top[0].data.reshape(self.dims)[...] = softmax(x, axis=1)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        y = top[0].host_data_readonly.reshape(self.dims)
        dy = top[0].host_diff_readonly.reshape(self.dims)
        dx = (dy - (dy * y).sum(axis=1, keepdims=True)) * y
        bottom[0].diff.reshape(self.dims)[...] = dx

    def forward_gpu(self, bottom, top):
        softmax_gpu.softmax_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        softmax_gpu.softmax_backward_gpu(self, top, propagate_down, bottom)
