"""The base of Scale and Bias (Caffe's ScaleLayer and BiasLayer): bottom[0] meets an
*operand* broadcast over its axes axis..axis+k-1.

The operand is bottom[1] when given, else a learned blob (blobs[0]) of shape
``bottom[0].shape[axis:axis+num_axes]`` (num_axes -1: to the last axis).  Both blobs are seen
as (outer, dim, inner) against (1, dim, 1) (``self.dims``, set by reshape; a scalar operand
uses axis 0, as Caffe does).  The operand's gradient is a per-channel sum, accumulated into
the learned blob's diff (param diffs accumulate) or written over bottom[1]'s (bottom diffs
are overwritten).  In-place (top is bottom[0]) is allowed.
"""
from caffeine.layers.axis_utils import broadcast_dims, param_shape
from caffeine.layers.base import Layer


class BaseBroadcast(Layer):
    min_bottom = 1
    max_bottom = 2
    exact_num_top = 1
    allow_inplace = True
    has_gpu_kernel = True  # layers_cuda/scale_bias.cu (caffeine/cuda_layers/scale_bias_gpu.py)

    operand_name = None  # "scale" or "bias", for messages

    def _operand(self, bottom):
        return bottom[1] if len(bottom) > 1 else self.blobs[0]

    def _new_param_blob(self, bottom, axis, num_axes, what):
        """An unfilled parameter blob of shape bottom[0].shape[axis:axis+num_axes]."""
        return self.new_blob(*param_shape(self, bottom[0], axis, num_axes, what))

    def _reshape_broadcast(self, bottom, top, axis):
        dims = broadcast_dims(self, bottom[0], self._operand(bottom), axis, self.operand_name)
        self._check_dims(bottom, axis, dims)
        self.dims = dims
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)

    def _check_dims(self, bottom, axis, dims):
        """Further checks of the (outer, dim, inner) reshape found (Scale: its bias blob)."""

    def _operand_wants_grad(self, bottom, propagate_down):
        """The learned blob's param_propagate_down, or propagate_down[1] for bottom[1]."""
        return self.param_propagate_down[0] if len(bottom) == 1 else propagate_down[1]

    @staticmethod
    def _store_operand_grad(bottom, diff, grad):
        """diff (the operand's, host or device, shaped (dim,)) += grad for the learned blob,
        = grad for bottom[1]."""
        if len(bottom) == 1:
            diff[...] += grad
        else:
            diff[...] = grad
