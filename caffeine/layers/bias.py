"""Bias: add a bias broadcast over bottom[0]'s axes axis..axis+k-1 (Caffe's BiasLayer).

The bias is a learned blob of shape bottom[0].shape[axis:axis+num_axes]
(num_axes -1: to the last axis; filler default constant 0), or bottom[1] when given.
In-place (top is bottom[0]) is allowed.
"""
from caffeine import fillers
from caffeine.cuda_layers import scale_bias_gpu
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import broadcast_dims, param_shape
from caffeine.layers.base import Layer


@register_layer("Bias")
class BiasLayer(Layer):
    min_bottom = 1
    max_bottom = 2
    exact_num_top = 1
    allow_inplace = True
    has_gpu_kernel = True  # layers_cuda/scale_bias.cu

    def setup(self, bottom, top):
        p = self.layer_param.bias_param
        if len(bottom) == 1 and not self.blobs:
            bias = self.new_blob(*param_shape(self, bottom[0], p.axis, p.num_axes, "bias"))
            fillers.fill(bias, p.filler, self.rng)  # FillerParameter default: constant 0
            self.blobs.append(bias)
        self.param_propagate_down = [True] * len(self.blobs)

    def _bias(self, bottom):
        return bottom[1] if len(bottom) > 1 else self.blobs[0]

    def reshape(self, bottom, top):
        p = self.layer_param.bias_param
        self.dims = broadcast_dims(self, bottom[0], self._bias(bottom), p.axis, "bias")
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def forward_cpu(self, bottom, top):
        outer, dim, inner = self.dims
        b = self._bias(bottom).data.reshape(1, dim, 1)
        y = top[0].data.reshape(outer, dim, inner)
        if top[0] is bottom[0]:
            y += b
        else:
            y[...] = bottom[0].data.reshape(outer, dim, inner) + b

    def backward_cpu(self, top, propagate_down, bottom):
        outer, dim, inner = self.dims
        dy = top[0].diff.reshape(outer, dim, inner)
        one_bottom = len(bottom) == 1
        if (one_bottom and self.param_propagate_down[0]) or (not one_bottom and propagate_down[1]):
            grad = dy.sum(axis=(0, 2))
            if one_bottom:
                self.blobs[0].diff.reshape(dim)[...] += grad
            else:
                bottom[1].diff.reshape(dim)[...] = grad
        if propagate_down[0] and top[0] is not bottom[0]:
            bottom[0].diff[...] = top[0].diff

    def forward_gpu(self, bottom, top):
        scale_bias_gpu.bias_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        scale_bias_gpu.bias_backward_gpu(self, top, propagate_down, bottom)
