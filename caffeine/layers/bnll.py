"""BNLL (binomial normal log likelihood, i.e. softplus), as Caffe's BNLLLayer."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer

# Caffe's kBNLL_THRESHOLD: exp() in the gradient is capped here to avoid overflow
BNLL_THRESHOLD = 50.0


@register_layer("BNLL")
class BNLLLayer(ElementwiseNeuronLayer):
    def backward_needs_bottom(self):
        return True

    def compute_forward(self, xp, x):
        # Caffe: x > 0 ? x + log(1 + exp(-x)) : log(1 + exp(x)), i.e. max(x, 0) + log(1 + exp(-|x|))
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def compute_backward(self, xp, x, y, dy):
        # dy/dx = e / (1 + e) with e = exp(min(x, threshold))
        e = xp.exp(xp.minimum(x, BNLL_THRESHOLD))
        return dy * (e / (e + 1))
