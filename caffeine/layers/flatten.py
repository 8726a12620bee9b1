"""Flatten: merge axes axis..end_axis into one (Caffe's FlattenLayer).

The top is a view: it shares data and diff with the bottom (ShareData/ShareDiff),
so forward and backward move nothing.
"""
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import canonical_axis
from caffeine.layers.base import ViewLayer


@register_layer("Flatten")
class FlattenLayer(ViewLayer):

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
        self.share_as(bottom, top, shape)
