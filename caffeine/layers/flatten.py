"""Flatten: merge axes axis..end_axis into one (Caffe's FlattenLayer).

The top is a view: it shares data and diff with the bottom (ShareData/ShareDiff),
so forward and backward move nothing.
"""
from caffeine.cuda_layers import structure_gpu
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import canonical_axis
from caffeine.layers.base import Layer


@register_layer("Flatten")
class FlattenLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1

    def reshape(self, bottom, top):
        p = self.layer_param.flatten_param
        b = bottom[0]
        start = canonical_axis(self, b, p.axis, "axis")
        end = canonical_axis(self, b, p.end_axis, "end_axis")
        if end < start:
            raise self.error("end_axis comes before axis", field="end_axis",
                             expected=f">= {start}", found=end)
        shape = list(b.shape[:start]) + [b.count(start, end + 1)] + list(b.shape[end + 1:])
        top[0].reshape(shape)
        top[0].share_data(b)
        top[0].share_diff(b)

    def forward_cpu(self, bottom, top):
        pass

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    def forward_gpu(self, bottom, top):
        structure_gpu.view_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.view_backward_gpu(self, top, propagate_down, bottom)
