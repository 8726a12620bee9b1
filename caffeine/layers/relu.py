"""ReLU (leaky when negative_slope != 0), as Caffe's ReLULayer."""
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
