"""Swish, as Caffe's SwishLayer: y = x * sigmoid(beta * x)."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer
from caffeine.layers.sigmoid import sigmoid


@register_layer("Swish")
class SwishLayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        self.beta = float(self.layer_param.swish_param.beta)
        self._sigmoid_out = None

    def compute_forward(self, xp, x):
        # the sigmoid output is kept for backward (Caffe's sigmoid_output_), so in place works
        s = sigmoid(xp, x * self.beta)
        self._sigmoid_out = s
        return x * s

    def compute_backward(self, xp, x, y, dy):
        if self._sigmoid_out is None:
            raise self.error("backward called before forward")
        s = self._sigmoid_out
        by = self.beta * y
        # d/dx [x s(beta x)] = beta y + s (1 - beta y)
        return dy * (by + s * (1 - by))
