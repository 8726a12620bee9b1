"""Crop: cut bottom[0] to bottom[1]'s size from ``axis`` on (Caffe's CropLayer).

``offset`` is one value for every cropped axis or one per axis from ``axis`` on.
"""
from caffeine.cuda_layers import structure_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import canonical_axis
from caffeine.layers.base import Layer


@register_layer("Crop")
class CropLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 2
    exact_num_top = 1

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0  # bottom[1] only supplies a size

    def reshape(self, bottom, top):
        p = self.layer_param.crop_param
        data, ref = bottom
        n = data.num_axes
        if ref.num_axes != n:
            raise self.error("both bottoms must have the same number of axes", cls=ShapeError,
                             expected=n, found=ref.num_axes)
        axis = canonical_axis(self, data, p.axis)
        offsets = [int(o) for o in p.offset]
        if len(offsets) > 1 and axis + len(offsets) != n:
            raise self.error(f"number of offset values must equal the number of axes from axis {axis} on",
                             field="offset", expected=n - axis, found=len(offsets))
        shape, index = [], []
        for i in range(n):
            off, size = 0, data.shape[i]
            if i >= axis:
                size = ref.shape[i]
                if len(offsets) == 1:
                    off = offsets[0]
                elif offsets:
                    off = offsets[i - axis]
            # Caffe checks every axis: the reference may not be larger than the input
            if data.shape[i] - off < ref.shape[i]:
                raise self.error(f"invalid crop parameters in axis {i}: offset {off} + reference size "
                                 f"{ref.shape[i]} exceeds the input size {data.shape[i]}", cls=ShapeError,
                                 field="offset", expected=f"offset + {ref.shape[i]} <= {data.shape[i]} in axis {i}",
                                 found=off)
            shape.append(size)
            index.append(slice(off, off + size))
        self.index = tuple(index)
        top[0].reshape(shape)

    def forward_cpu(self, bottom, top):
        top[0].data[...] = bottom[0].data[self.index]

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            diff = bottom[0].diff
            diff[...] = 0
            diff[self.index] = top[0].diff

    def forward_gpu(self, bottom, top):
        structure_gpu.crop_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.crop_backward_gpu(self, top, propagate_down, bottom)
