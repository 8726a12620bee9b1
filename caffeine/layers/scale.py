"""Scale: multiply bottom[0] by a scale broadcast over its axes axis..axis+k-1
(Caffe's ScaleLayer).

The scale (the operand of ``base_broadcast``) is a learned blob of shape
bottom[0].shape[axis:axis+num_axes] (num_axes -1: to the last axis; filler default
constant 1), or bottom[1] when given.  With bias_term a bias of the same shape is added,
as Caffe's internal Bias layer does; blob order: [scale, bias] with one bottom, [bias] with
two.  In-place (top is bottom[0]) is allowed: the input is kept for the scale gradient.
"""
import numpy as np

from caffeine import fillers
from caffeine.cuda_layers import scale_bias_gpu
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import broadcast_dims
from caffeine.layers.base_broadcast import BaseBroadcast


@register_layer("Scale")
class ScaleLayer(BaseBroadcast):
    operand_name = "scale"

    def setup(self, bottom, top):
        p = self.layer_param.scale_param
        self.bias_term = p.bias_term
        if self.blobs:  # already initialized (Caffe: "Skipping parameter initialization")
            expected = (1 if len(bottom) == 1 else 0) + (1 if self.bias_term else 0)
            if len(self.blobs) != expected:
                raise self.error("wrong number of parameter blobs", expected=expected, found=len(self.blobs))
        else:
            if len(bottom) == 1:
                scale = self._new_param_blob(bottom, p.axis, p.num_axes, "scale")
                if p.HasField("filler"):
                    fillers.fill(scale, p.filler, self.rng)
                else:
                    scale.data[...] = 1  # identity by default
                self.blobs.append(scale)
            if self.bias_term:
                # Caffe's internal Bias layer: same axis, num_axes from bottom[1] when given
                num_axes = bottom[1].num_axes if len(bottom) > 1 else p.num_axes
                bias = self._new_param_blob(bottom, p.axis, num_axes, "bias")
                fillers.fill(bias, p.bias_filler, self.rng)  # default: constant 0
                self.blobs.append(bias)
        self.param_propagate_down = [True] * len(self.blobs)

    def reshape(self, bottom, top):
        self._reshape_broadcast(bottom, top, self.layer_param.scale_param.axis)

    def _check_dims(self, bottom, axis, dims):
        if self.bias_term:
            bias_dims = broadcast_dims(self, bottom[0], self.blobs[-1], axis, "bias")
            if bias_dims != dims:
                raise self.error("the bias blob must match the scale blob", expected=dims, found=bias_dims)

    def forward_cpu(self, bottom, top):
        outer, dim, inner = self.dims
        x = bottom[0].data.reshape(outer, dim, inner)
        s = self._operand(bottom).data.reshape(1, dim, 1)
        in_place = top[0] is bottom[0]
        self.saved_input = x.copy() if in_place else None
        y = top[0].data.reshape(outer, dim, inner)
        np.multiply(x, s, out=y)
        if self.bias_term:
            y += self.blobs[-1].data.reshape(1, dim, 1)

    def backward_cpu(self, top, propagate_down, bottom):
        outer, dim, inner = self.dims
        dy = top[0].diff.reshape(outer, dim, inner)
        if self.bias_term and self.param_propagate_down[-1]:
            self.blobs[-1].diff.reshape(dim)[...] += dy.sum(axis=(0, 2))
        scale = self._operand(bottom)
        if self._operand_wants_grad(bottom, propagate_down):
            x = self.saved_input if self.saved_input is not None else bottom[0].data.reshape(outer, dim, inner)
            grad = np.einsum("odi,odi->d", dy, x)
            self._store_operand_grad(bottom, scale.diff.reshape(dim), grad)
        if propagate_down[0]:
            # read dy before writing: in-place, bottom diff and top diff are the same memory
            bottom[0].diff.reshape(outer, dim, inner)[...] = dy * scale.data.reshape(1, dim, 1)

    def forward_gpu(self, bottom, top):
        scale_bias_gpu.scale_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        scale_bias_gpu.scale_backward_gpu(self, top, propagate_down, bottom)
