"""Clip, as Caffe's ClipLayer: y = max(min, min(x, max)); the gradient passes where
min <= x <= max (boundaries included, as Caffe)."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("Clip")
class ClipLayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        lp = self.layer_param
        if not lp.HasField("clip_param"):
            raise self.error("Clip needs clip_param { min: A max: B }", field="clip_param")
        cp = lp.clip_param
        for name in ("min", "max"):
            if not cp.HasField(name):
                raise self.error(f"clip_param.{name} is required", field=f"clip_param.{name}")
        self.min, self.max = float(cp.min), float(cp.max)
        if self.min > self.max:
            raise self.error("clip_param.min must not exceed clip_param.max", field="clip_param",
                             expected=f"min <= max ({self.max})", found=self.min)

    def backward_needs_bottom(self):
        return True

    def compute_forward(self, xp, x):
        return xp.maximum(self.min, xp.minimum(x, self.max))

    def compute_backward(self, xp, x, y, dy):
        return xp.where((x >= self.min) & (x <= self.max), dy, 0)
