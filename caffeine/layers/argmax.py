"""ArgMax: indices (and optionally values) of the top_k largest inputs (Caffe's ArgMaxLayer).

Without argmax_param.axis each sample's values (all axes after the first) are
ranked and the top is (N, 1, top_k) -- or (N, 2, top_k) with out_max_val, the
indices in [:, 0] and values in [:, 1] -- padded with 1s to the bottom's number
of axes.  With an axis the top has the bottom's shape with that axis set to
top_k, holding the values when out_max_val, else the indices.
Ranking follows Caffe's std::partial_sort with std::greater on (value, index)
pairs: larger value first, and among equal values the LARGER index first.
Indices are written as floats, as Caffe does.  No backward.
"""
import numpy as np

from caffeine.cuda_layers import argmax_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.layers.labels import canonical_axis


def top_k_desc(x, k):
    """Indices and values of the k largest entries along the last axis, Caffe's order."""
    dim = x.shape[-1]
    # a stable ascending sort of -x over the reversed axis ranks equal values by
    # decreasing original index, which is std::greater's order on (value, index)
    order = np.argsort(-x[..., ::-1], axis=-1, kind="stable")[..., :k]
    index = dim - 1 - order
    return index, np.take_along_axis(x, index, axis=-1)


@register_layer("ArgMax")
class ArgMaxLayer(Layer):
    exact_num_bottom = 1
    exact_num_top = 1
    has_gpu_kernel = True  # layers_cuda/argmax.cu

    def setup(self, bottom, top):
        param = self.layer_param.argmax_param
        self.out_max_val = bool(param.out_max_val)
        self.top_k = int(param.top_k)
        self.has_axis = param.HasField("axis")
        if self.top_k < 1:
            raise self.error("top_k must not be less than 1", field="argmax_param.top_k",
                             expected=">= 1", found=self.top_k)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        if self.has_axis:
            self.axis = canonical_axis(self, bottom[0], self.layer_param.argmax_param.axis,
                                       "argmax_param.axis")
            if self.top_k > shape[self.axis]:
                raise self.error("top_k must be less than or equal to the dimension of the axis",
                                 field="argmax_param.top_k", expected=f"<= {shape[self.axis]}",
                                 found=self.top_k)
            top_shape = list(shape)
            top_shape[self.axis] = self.top_k
        else:
            if not shape:
                raise self.error("bottom needs at least one axis", expected=">= 1 axis",
                                 found=shape)
            per_sample = bottom[0].count(1)
            if self.top_k > per_sample:
                raise self.error("top_k must be less than or equal to the dimension of the "
                                 "flattened bottom blob per instance", field="argmax_param.top_k",
                                 expected=f"<= {per_sample}", found=self.top_k)
            top_shape = [1] * max(3, len(shape))
            top_shape[0] = shape[0]
            top_shape[1] = 2 if self.out_max_val else 1
            top_shape[2] = self.top_k
        top[0].reshape(tuple(top_shape))

    def forward_cpu(self, bottom, top):
        x = bottom[0].host_data_readonly
        if self.has_axis:
            index, value = top_k_desc(np.moveaxis(x, self.axis, -1), self.top_k)
            out = value if self.out_max_val else index
            top[0].data[...] = np.moveaxis(out, -1, self.axis)
        else:
            index, value = top_k_desc(x.reshape(x.shape[0], -1), self.top_k)
            out = top[0].data.reshape(x.shape[0], -1, self.top_k)
            out[:, 0, :] = index
            if self.out_max_val:
                out[:, 1, :] = value

    def forward_gpu(self, bottom, top):
        argmax_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        argmax_gpu.backward_gpu(self, top, propagate_down, bottom)
