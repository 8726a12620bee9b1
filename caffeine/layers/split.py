"""Split: hand one bottom to several consumers (Caffe's SplitLayer).

The Net inserts it for every blob consumed by more than one layer.  The tops share
the bottom's data memory (Caffe's ShareData), so forward copies nothing; backward
sums the consumers' diffs into the bottom's diff.
"""
from caffeine.cuda_layers import structure_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("Split")
class SplitLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    min_top = 1

    def reshape(self, bottom, top):
        for t in top:
            t.reshape(bottom[0].shape)
            t.share_data(bottom[0])

    def forward_cpu(self, bottom, top):
        pass  # the tops already hold the bottom's data

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        diff = bottom[0].diff
        diff[...] = top[0].diff
        for t in top[1:]:
            diff += t.diff

    def forward_gpu(self, bottom, top):
        structure_gpu.split_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.split_backward_gpu(self, top, propagate_down, bottom)
