"""AbsVal, as Caffe's AbsValLayer: y = |x|, dy/dx = sign(x) (0 at 0).

Caffe refuses in-place AbsVal; caffeine allows it by keeping a copy of the input.
"""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("AbsVal")
class AbsValLayer(ElementwiseNeuronLayer):
    def backward_needs_bottom(self):
        return True  # sign(x) is lost in |x|

    def compute_forward(self, xp, x):
        return xp.abs(x)

    def compute_backward(self, xp, x, y, dy):
        return dy * xp.sign(x)
