"""Sigmoid, as Caffe's SigmoidLayer: y = 1 / (1 + exp(-x))."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


def sigmoid(xp, x):
    # Caffe's overflow-free form: 0.5 * tanh(0.5 x) + 0.5
    return 0.5 * xp.tanh(0.5 * x) + 0.5


@register_layer("Sigmoid")
class SigmoidLayer(ElementwiseNeuronLayer):
    def compute_forward(self, xp, x):
        return sigmoid(xp, x)

    def compute_backward(self, xp, x, y, dy):
        # dy/dx = y (1 - y): from the output, so in place needs no copy
        return dy * y * (1 - y)
