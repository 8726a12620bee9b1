"""Power, as Caffe's PowerLayer: y = (shift + scale * x) ^ power."""
import math

from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


def _c_pow(base, exponent):
    """C's pow(): NaN for a negative base with a fractional exponent, inf for 0 ^ negative."""
    try:
        return math.pow(base, exponent)
    except (ValueError, ZeroDivisionError):
        return math.inf if base == 0 else math.nan


@register_layer("Power")
class PowerLayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        p = self.layer_param.power_param
        self.power, self.scale, self.shift = float(p.power), float(p.scale), float(p.shift)
        self.diff_scale = self.power * self.scale  # dy/dx = diff_scale * (shift + scale x)^(power-1)

    def _constant_gradient(self):
        # Caffe's special cases: power 0 or scale 0 (y constant) and power 1 (y affine)
        return self.diff_scale == 0 or self.power == 1

    def backward_needs_bottom(self):
        return not self._constant_gradient()

    def compute_forward(self, xp, x):
        if self.diff_scale == 0:
            # y does not depend on x: 1 when power is 0 (0^0 = 1 as Caffe), else shift^power
            value = 1.0 if self.power == 0 else _c_pow(self.shift, self.power)
            return xp.full(x.shape, value, dtype=x.dtype)
        inner = x * self.scale if self.scale != 1 else x
        if self.shift != 0:
            inner = inner + self.shift
        return inner if self.power == 1 else xp.power(inner, self.power)

    def compute_backward(self, xp, x, y, dy):
        if self._constant_gradient():
            return dy * self.diff_scale
        inner = x * self.scale + self.shift
        if self.power == 2:
            return dy * (self.diff_scale * inner)
        # Caffe divides y by (shift + scale x), which is NaN where that is 0; the power form
        # gives the true limit there (0 for power > 1, inf for power < 1) and is otherwise equal
        return dy * (self.diff_scale * xp.power(inner, self.power - 1))
