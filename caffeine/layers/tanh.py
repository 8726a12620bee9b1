"""TanH, as Caffe's TanHLayer."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("TanH")
class TanHLayer(ElementwiseNeuronLayer):
    def compute_forward(self, xp, x):
        return xp.tanh(x)

    def compute_backward(self, xp, x, y, dy):
        # dy/dx = 1 - y^2, from the output
        return dy * (1 - y * y)
