"""Bias: add a bias broadcast over bottom[0]'s axes axis..axis+k-1 (Caffe's BiasLayer).

The bias (the operand of ``base_broadcast``) is a learned blob of shape
bottom[0].shape[axis:axis+num_axes] (num_axes -1: to the last axis; filler default
constant 0), or bottom[1] when given.  In-place (top is bottom[0]) is allowed.
"""
from caffeine import fillers
from caffeine.cuda_layers import scale_bias_gpu
from caffeine.layers import register_layer
from caffeine.layers.base_broadcast import BaseBroadcast


@register_layer("Bias")
class BiasLayer(BaseBroadcast):
    operand_name = "bias"

    def setup(self, bottom, top):
        p = self.layer_param.bias_param
        if len(bottom) == 1 and not self.blobs:
            bias = self._new_param_blob(bottom, p.axis, p.num_axes, "bias")
            fillers.fill(bias, p.filler, self.rng)  # FillerParameter default: constant 0
            self.blobs.append(bias)
        self.param_propagate_down = [True] * len(self.blobs)

    def reshape(self, bottom, top):
        self._reshape_broadcast(bottom, top, self.layer_param.bias_param.axis)

    def forward_cpu(self, bottom, top):
        outer, dim, inner = self.dims
        b = self._operand(bottom).data.reshape(1, dim, 1)
        y = top[0].data.reshape(outer, dim, inner)
        if top[0] is bottom[0]:
            y += b
        else:
            y[...] = bottom[0].data.reshape(outer, dim, inner) + b

    def backward_cpu(self, top, propagate_down, bottom):
        outer, dim, inner = self.dims
        dy = top[0].diff.reshape(outer, dim, inner)
        if self._operand_wants_grad(bottom, propagate_down):
            grad = dy.sum(axis=(0, 2))
            self._store_operand_grad(bottom, self._operand(bottom).diff.reshape(dim), grad)
        if propagate_down[0] and top[0] is not bottom[0]:
            bottom[0].diff[...] = top[0].diff

    def forward_gpu(self, bottom, top):
        scale_bias_gpu.bias_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        scale_bias_gpu.bias_backward_gpu(self, top, propagate_down, bottom)
