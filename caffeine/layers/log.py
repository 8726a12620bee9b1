"""Log, as Caffe's LogLayer: y = log_base(shift + scale * x), base -1 meaning e."""
import math

from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("Log")
class LogLayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.log_param
        base = float(p.base)
        if base != -1 and not base > 0:
            raise self.error("log_param.base must be strictly positive (or -1 for e)",
                             field="log_param.base", expected="> 0 or -1", found=base)
        log_base = 1.0 if base == -1 else math.log(base)
        if log_base == 0 or not math.isfinite(log_base):
            raise self.error("log_param.base gives a degenerate logarithm (log(base) = %g)" % log_base,
                             field="log_param.base", expected="base != 1", found=base)
        self.base_scale = 1.0 / log_base
        self.input_scale, self.input_shift = float(p.scale), float(p.shift)
        # dy/dx = scale / (log(base) * (shift + scale * x))
        self.backward_num_scale = self.input_scale / log_base

    def backward_needs_bottom(self):
        return True

    def _inner(self, x):
        if self.input_scale == 1 and self.input_shift == 0:
            return x
        return x * self.input_scale + self.input_shift

    def compute_forward(self, xp, x):
        y = xp.log(self._inner(x))
        return y * self.base_scale if self.base_scale != 1 else y

    def compute_backward(self, xp, x, y, dy):
        return dy * (self.backward_num_scale / self._inner(x))
