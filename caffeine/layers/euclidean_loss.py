"""EuclideanLoss: 1/(2N) sum (a - b)^2 (Caffe's EuclideanLossLayer).

Both bottoms get a gradient, with opposite signs:
    da = +loss_weight / N * (a - b),   db = -loss_weight / N * (a - b)
so, as in Caffe, backward may be forced into either bottom (no label bottom).
"""
import numpy as np

from caffeine.cuda_layers import losses_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import LossLayer


@register_layer("EuclideanLoss")
class EuclideanLossLayer(LossLayer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/


    def allow_force_backward(self, bottom_index):
        return True

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if bottom[0].count(1) != bottom[1].count(1):
            raise self.error("inputs must have the same dimension (count after the first axis)",
                             cls=ShapeError, expected=bottom[0].shape, found=bottom[1].shape)

    def forward_cpu(self, bottom, top):
        a = bottom[0].host_data_readonly
        b = bottom[1].host_data_readonly.reshape(a.shape)
        self.diff = a - b
        flat = self.diff.reshape(-1)
        top[0].data[...] = np.dot(flat, flat) / bottom[0].num / 2

    def backward_cpu(self, top, propagate_down, bottom):
        weight = top[0].host_diff_readonly.flat[0]
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = sign * weight / bottom[i].num
                bottom[i].diff[...] = (alpha * self.diff).reshape(bottom[i].shape)

    def forward_gpu(self, bottom, top):
        losses_gpu.euclidean_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        losses_gpu.euclidean_backward_gpu(self, top, propagate_down, bottom)
