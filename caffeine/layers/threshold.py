"""Threshold, as Caffe's ThresholdLayer: y = 1 if x > threshold else 0; no gradient."""
from caffeine.layers import register_layer
from caffeine.layers.neuron_common import ElementwiseNeuronLayer


@register_layer("Threshold")
class ThresholdLayer(ElementwiseNeuronLayer):
    def setup(self, bottom, top):
        self.threshold = float(self.layer_param.threshold_param.threshold)

    def compute_forward(self, xp, x):
        return x > self.threshold

    def allow_force_backward(self, bottom_index):
        return False  # a step function has no gradient to force

    def _backward(self, top, propagate_down, bottom, gpu):
        # Caffe: NOT_IMPLEMENTED
        if propagate_down[0]:
            raise self.error("Threshold has no gradient; set propagate_down: false on this layer "
                             "or keep it out of the backward path")
