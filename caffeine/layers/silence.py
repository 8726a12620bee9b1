"""Silence: consume blobs so they are not reported as net outputs (Caffe's SilenceLayer).
No tops; backward zeroes the diffs of the bottoms it propagates to."""
from caffeine.cuda_layers import structure_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("Silence")
class SilenceLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    min_bottom = 1
    exact_num_top = 0

    def reshape(self, bottom, top):
        pass

    def forward_cpu(self, bottom, top):
        pass

    def backward_cpu(self, top, propagate_down, bottom):
        for b, pd in zip(bottom, propagate_down):
            if pd:
                b.diff[...] = 0

    def forward_gpu(self, bottom, top):
        structure_gpu.split_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.silence_backward_gpu(self, top, propagate_down, bottom)
