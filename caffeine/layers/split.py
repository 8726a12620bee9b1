"""Split: hand one bottom to several consumers (Caffe's SplitLayer).

The Net inserts it for every blob consumed by more than one layer.  The tops share
the bottom's data memory (Caffe's ShareData), so forward copies nothing; backward
sums the consumers' diffs into the bottom's diff.
"""
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("Split")
class SplitLayer(Layer):
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
