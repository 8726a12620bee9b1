"""Filter: keep the items (along axis 0) whose selector is non-zero (Caffe's FilterLayer).

Bottoms: the blobs to filter, then the selector (shape N or N x 1 x ...); one top per
filtered bottom.  Backward scatters the top diffs back and zeroes the dropped items.
As in Caffe, the first reshape (at setup, before any data exists) gives the tops the
full batch size; later ones the number of selected items.
"""
import numpy as np

from caffeine.cuda_layers import index_copy_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import blob_label
from caffeine.layers.base import Layer


@register_layer("Filter")
class FilterLayer(Layer):
    min_bottom = 2
    min_top = 1
    has_gpu_kernel = True  # layers_cuda/index_copy.cu; reshape reads the selector on the host

    def setup(self, bottom, top):
        if len(top) != len(bottom) - 1:
            raise self.error("Filter needs one top per bottom but the last (the selector)",
                             expected=len(bottom) - 1, found=len(top))
        self._first_reshape = True
        self._num_bottom = len(bottom)

    def allow_force_backward(self, bottom_index):
        n = getattr(self, "_num_bottom", len(self.layer_param.bottom))
        return bottom_index != n - 1  # never into the selector

    def reshape(self, bottom, top):
        sel = bottom[-1]
        if sel.num_axes < 1 or any(s != 1 for s in sel.shape[1:]):
            raise self.error("selector blob dimensions must be singletons (1), except the first",
                             cls=ShapeError, blob=sel.name, expected="N x 1 x ... x 1", found=sel.shape)
        for i in range(len(bottom) - 1):
            if bottom[i].num_axes < 1 or bottom[i].shape[0] != sel.shape[0]:
                raise self.error(f"{blob_label(bottom, i)} must have the same first dimension as the "
                                 "selector blob", cls=ShapeError, blob=bottom[i].name,
                                 expected=sel.shape[0], found=bottom[i].shape[:1])
        self.indices = np.flatnonzero(sel.host_data_readonly.reshape(-1))
        n = len(self.indices)
        if self._first_reshape:
            n = bottom[0].shape[0]
            self._first_reshape = False
        for t, b in zip(top, bottom[:-1]):
            t.reshape((n,) + tuple(b.shape[1:]))

    def forward_cpu(self, bottom, top):
        for t, b in zip(top, bottom[:-1]):
            t.data[...] = b.data[self.indices]

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[-1]:
            raise self.error("Filter cannot backpropagate to the selector (last) bottom")
        for t, b, pd in zip(top, bottom[:-1], propagate_down):
            if pd:
                diff = b.diff
                diff[...] = 0
                diff[self.indices] = t.diff

    def forward_gpu(self, bottom, top):
        index_copy_gpu.filter_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        index_copy_gpu.filter_backward_gpu(self, top, propagate_down, bottom)
