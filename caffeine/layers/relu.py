"""ReLU (leaky when negative_slope != 0), as Caffe's ReLULayer."""
import numpy as np

from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("ReLU")
class ReLULayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        self.negative_slope = float(self.layer_param.relu_param.negative_slope)

    def backward_needs_bottom(self):
        # with a slope >= 0, y > 0 exactly where x > 0, so the output tells the branch
        # (Caffe reads bottom data, which is the output when in place)
        return self.negative_slope < 0

    def compute_forward(self, xp, x):
        # y = max(x, 0) + negative_slope * min(x, 0)
        if self.negative_slope == 0:
            return xp.maximum(x, 0)
        return xp.where(x > 0, x, x * self.negative_slope)

    def compute_backward(self, xp, x, y, dy):
        ref = y if x is None else x
        # dy/dx = 1 where x > 0, negative_slope where x <= 0
        return xp.where(ref > 0, dy, dy * self.negative_slope)

    # ---- host fast path: ufuncs writing straight into the blobs (no temporaries) -------------
    def forward_cpu(self, bottom, top):
        if self.negative_slope != 0:
            return super().forward_cpu(bottom, top)
        # in place too: maximum reads each element before it writes it
        np.maximum(bottom[0].host_data_readonly, 0, out=top[0].data)

    def backward_cpu(self, top, propagate_down, bottom):
        if self.negative_slope != 0:
            return super().backward_cpu(top, propagate_down, bottom)
        if not propagate_down[0]:
            return
        # Caffe: bottom_diff = top_diff * (x > 0); y > 0 exactly where x > 0
        positive = np.greater(top[0].host_data_readonly, 0, out=self._mask(top[0]))
        dy = top[0].host_diff_readonly
        np.multiply(dy, positive, out=bottom[0].diff)

    def _mask(self, blob):
        mask = getattr(self, "_positive", None)
        if mask is None or mask.shape != blob.shape:
            mask = self._positive = np.empty(blob.shape, dtype=bool)
        return mask
