"""Concat: join bottoms along one axis (Caffe's ConcatLayer)."""
import numpy as np

from caffeine.cuda_layers import structure_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import axis_or_legacy_dim, blob_label, check_axis_or_legacy_dim
from caffeine.layers.base import Layer


@register_layer("Concat")
class ConcatLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    min_bottom = 1
    exact_num_top = 1

    def setup(self, bottom, top):
        check_axis_or_legacy_dim(self, self.layer_param.concat_param, "concat_dim")

    def _axis(self, bottom):
        return axis_or_legacy_dim(self, bottom[0], self.layer_param.concat_param, "concat_dim")

    def reshape(self, bottom, top):
        axis = self.axis = self._axis(bottom)
        shape = list(bottom[0].shape)
        for i in range(1, len(bottom)):
            b = bottom[i]
            if b.num_axes != len(shape):
                raise self.error(f"all inputs must have the same number of axes; {blob_label(bottom, i)} differs",
                                 cls=ShapeError, blob=b.name, expected=len(shape), found=b.num_axes)
            other = [s for j, s in enumerate(b.shape) if j != axis]
            if other != [s for j, s in enumerate(shape) if j != axis]:
                raise self.error(f"all inputs must have the same shape except at the concat axis {axis}; "
                                 f"{blob_label(bottom, i)} has shape {b.shape}, bottom[0] {bottom[0].shape}",
                                 cls=ShapeError, blob=b.name, expected=bottom[0].shape, found=b.shape)
            shape[axis] += b.shape[axis]
        top[0].reshape(shape)
        if len(bottom) == 1:  # Caffe shares memory when there is nothing to join
            top[0].share_data(bottom[0])
            top[0].share_diff(bottom[0])

    def forward_cpu(self, bottom, top):
        if len(bottom) == 1:
            return
        top[0].data[...] = np.concatenate([b.data for b in bottom], axis=self.axis)

    def backward_cpu(self, top, propagate_down, bottom):
        if len(bottom) == 1:
            return
        diff = top[0].diff
        offset = 0
        for b, pd in zip(bottom, propagate_down):
            n = b.shape[self.axis]
            if pd:
                index = (slice(None),) * self.axis + (slice(offset, offset + n),)
                b.diff[...] = diff[index]
            offset += n

    def forward_gpu(self, bottom, top):
        structure_gpu.concat_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.concat_backward_gpu(self, top, propagate_down, bottom)
