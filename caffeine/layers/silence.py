"""Silence: consume blobs so they are not reported as net outputs (Caffe's SilenceLayer).
No tops; backward zeroes the diffs of the bottoms it propagates to."""
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("Silence")
class SilenceLayer(Layer):
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
