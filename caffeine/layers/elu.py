"""ELU, as Caffe's ELULayer: y = x (x > 0), alpha (exp(x) - 1) (x <= 0)."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("ELU")
class ELULayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        self.alpha = float(self.layer_param.elu_param.alpha)

    def backward_needs_bottom(self):
        # with alpha >= 0 the output is > 0 exactly where x > 0
        return self.alpha < 0

    def compute_forward(self, xp, x):
        return xp.where(x > 0, x, self.alpha * xp.expm1(xp.minimum(x, 0)))

    def compute_backward(self, xp, x, y, dy):
        ref = y if x is None else x
        # Caffe: dy/dx = 1 (x > 0), alpha + y = alpha exp(x) (x <= 0)
        return xp.where(ref > 0, dy, dy * (y + self.alpha))
