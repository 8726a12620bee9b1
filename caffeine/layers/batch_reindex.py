"""BatchReindex: top[i] = bottom[0][index[i]] along axis 0 (Caffe's BatchReindexLayer).

bottom[1] is a 1-D blob of indices (stored as floats, truncated to integers);
backward adds every top item's diff into the bottom item it came from.
"""
import numpy as np

from caffeine.cuda_layers import index_copy_gpu
from caffeine.errors import DataError, ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("BatchReindex")
class BatchReindexLayer(Layer):
    exact_num_bottom = 2
    exact_num_top = 1
    has_gpu_kernel = True  # layers_cuda/index_copy.cu

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0

    def reshape(self, bottom, top):
        if bottom[1].num_axes != 1:
            raise self.error("the index bottom must be 1-D", cls=ShapeError, blob=bottom[1].name,
                             expected=1, found=bottom[1].num_axes)
        if bottom[0].num_axes < 1:
            raise self.error("the data bottom needs at least one axis", cls=ShapeError,
                             expected=">= 1 axis", found=bottom[0].shape)
        top[0].reshape((bottom[1].shape[0],) + tuple(bottom[0].shape[1:]))

    def _indices(self, bottom):
        idx = bottom[1].data.astype(np.int64)
        n = bottom[0].shape[0]
        bad = (idx < 0) | (idx >= n)
        if bad.any():
            raise self.error(f"index for reindex out of range for a batch of {n}", cls=DataError,
                             blob=bottom[1].name, expected=f"0..{n - 1}", found=idx[bad][:5].tolist())
        return idx

    def forward_cpu(self, bottom, top):
        self.idx = self._indices(bottom)
        top[0].data[...] = bottom[0].data[self.idx]

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise self.error("BatchReindex cannot backpropagate to the index bottom")
        if propagate_down[0]:
            n = bottom[0].shape[0]
            flat = top[0].diff.reshape(len(self.idx), -1)
            out = bottom[0].diff.reshape(n, -1)
            out[...] = 0
            np.add.at(out, self.idx, flat)

    def forward_gpu(self, bottom, top):
        index_copy_gpu.batch_reindex_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        index_copy_gpu.batch_reindex_backward_gpu(self, top, propagate_down, bottom)
