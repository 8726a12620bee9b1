"""Exp, as Caffe's ExpLayer: y = base ^ (shift + scale * x), base -1 meaning e."""
import math

from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("Exp")
class ExpLayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.exp_param
        base, scale, shift = float(p.base), float(p.scale), float(p.shift)
        if base != -1 and not base > 0:
            raise self.error("exp_param.base must be strictly positive (or -1 for e)",
                             field="exp_param.base", expected="> 0 or -1", found=base)
        log_base = 1.0 if base == -1 else math.log(base)
        # y = outer_scale * exp(inner_scale * x) with
        #   inner_scale = log(base) * scale, outer_scale = base ^ shift
        self.inner_scale = log_base * scale
        self.outer_scale = 1.0 if shift == 0 else math.exp(log_base * shift)

    def compute_forward(self, xp, x):
        y = xp.exp(x * self.inner_scale) if self.inner_scale != 1 else xp.exp(x)
        return y * self.outer_scale if self.outer_scale != 1 else y

    def compute_backward(self, xp, x, y, dy):
        # dy/dx = inner_scale * y, from the output
        return dy * y * self.inner_scale
