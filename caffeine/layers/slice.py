"""Slice: cut a bottom into several tops along one axis (Caffe's SliceLayer)."""
import numpy as np

from caffeine.cuda_layers import structure_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import axis_or_legacy_dim, check_axis_or_legacy_dim
from caffeine.layers.base import Layer


@register_layer("Slice")
class SliceLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    min_top = 1

    def setup(self, bottom, top):
        p = self.layer_param.slice_param
        check_axis_or_legacy_dim(self, p, "slice_dim")
        self.slice_point = [int(s) for s in p.slice_point]

    def _axis(self, bottom):
        return axis_or_legacy_dim(self, bottom[0], self.layer_param.slice_param, "slice_dim")

    def _sizes(self, dim, n_top):
        if n_top > dim:
            raise self.error(f"cannot slice an axis of size {dim} into {n_top} tops", cls=ShapeError,
                             field="slice_point", expected=f"<= {dim} tops", found=n_top)
        if not self.slice_point:
            if dim % n_top:
                raise self.error(f"axis of size {dim} cannot be split equally into {n_top} tops "
                                 "(give slice_point)", cls=ShapeError, field="slice_point",
                                 expected=f"a multiple of {n_top}", found=dim)
            return [dim // n_top] * n_top
        if len(self.slice_point) != n_top - 1:
            raise self.error("slice_point must be given once per top blob but one",
                             field="slice_point", expected=n_top - 1, found=len(self.slice_point))
        bounds = [0] + self.slice_point + [dim]
        for prev, point in zip(bounds[:-1], bounds[1:]):
            if point <= prev:
                raise self.error(f"slice_point must be strictly increasing and within 1..{dim - 1} "
                                 f"(axis size {dim})", cls=ShapeError, field="slice_point",
                                 expected=f"> {prev} and < {dim}", found=self.slice_point)
        return list(np.diff(bounds))

    def reshape(self, bottom, top):
        axis = self.axis = self._axis(bottom)
        sizes = self._sizes(bottom[0].shape[axis], len(top))
        self.bounds = []
        offset = 0
        for t, n in zip(top, sizes):
            shape = list(bottom[0].shape)
            shape[axis] = int(n)
            t.reshape(shape)
            self.bounds.append((offset, offset + int(n)))
            offset += int(n)
        if len(top) == 1:  # Caffe shares memory when there is nothing to cut
            top[0].share_data(bottom[0])
            top[0].share_diff(bottom[0])

    def _index(self, start, end):
        return (slice(None),) * self.axis + (slice(start, end),)

    def forward_cpu(self, bottom, top):
        if len(top) == 1:
            return
        data = bottom[0].data
        for t, (start, end) in zip(top, self.bounds):
            t.data[...] = data[self._index(start, end)]

    def backward_cpu(self, top, propagate_down, bottom):
        if len(top) == 1 or not propagate_down[0]:
            return
        diff = bottom[0].diff
        for t, (start, end) in zip(top, self.bounds):
            diff[self._index(start, end)] = t.diff

    def forward_gpu(self, bottom, top):
        structure_gpu.slice_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.slice_backward_gpu(self, top, propagate_down, bottom)
