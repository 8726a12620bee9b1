"""Dropout, as Caffe's DropoutLayer.

TRAIN: each element is kept with probability 1 - dropout_ratio (mask drawn from the
global seeded generator, so runs are reproducible, and kept for backward) and the
kept ones are scaled by 1 / (1 - dropout_ratio).  TEST: identity.

``scale_train: false`` (a field of later Caffe forks) moves the scaling to test time:
TRAIN multiplies by the mask only, TEST multiplies by 1 - dropout_ratio.
"""
import numpy as np

from caffeine import backend
from caffeine.cuda_layers import neuron_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import NeuronLayer


@register_layer("Dropout")
class DropoutLayer(NeuronLayer):
    has_gpu_kernel = True  # layers_cuda/neuron.cu; the mask comes from a counter-based RNG

    def setup(self, bottom, top):
        dp = self.layer_param.dropout_param
        self.ratio = float(dp.dropout_ratio)
        if not 0.0 <= self.ratio < 1.0:
            raise self.error("dropout_ratio must be in [0, 1)", field="dropout_param.dropout_ratio",
                             expected="0 <= ratio < 1", found=self.ratio)
        # absent from BVLC's caffe.proto; honoured when the proto carries it
        self.scale_train = bool(getattr(dp, "scale_train", True))
        self.scale = 1.0 / (1.0 - self.ratio)
        self.mask = None

    def _train(self):
        return self.phase == self.caffe_pb2.TRAIN

    def _forward(self, bottom, top, gpu):
        x = bottom[0].data_for(gpu)
        y = top[0].data_for(gpu)
        if self._train():
            keep = self.rng.random(x.shape, dtype=np.float32) >= self.ratio  # P(keep) = 1 - ratio
            self.mask = backend.to_device(keep) if gpu else keep
            factor = self.scale if self.scale_train else 1.0
            y[...] = backend.get_array_module(x).where(self.mask, x * factor, 0)
        elif self.scale_train:
            if top[0] is not bottom[0]:
                y[...] = x
        else:
            y[...] = x * (1.0 - self.ratio)

    def _backward(self, top, propagate_down, bottom, gpu):
        if not propagate_down[0]:
            return
        dy = top[0].diff_for(gpu)
        dx = bottom[0].diff_for(gpu)
        if self._train():
            if self.mask is None or self.mask.shape != dy.shape:
                raise self.error("backward called without a matching TRAIN forward")
            factor = self.scale if self.scale_train else 1.0
            dx[...] = backend.get_array_module(dy).where(self.mask, dy * factor, 0)
        elif self.scale_train:
            if top[0] is not bottom[0]:
                dx[...] = dy
        else:
            dx[...] = dy * (1.0 - self.ratio)

    def forward_cpu(self, bottom, top):
        self._forward(bottom, top, gpu=False)

    def forward_gpu(self, bottom, top):
        neuron_gpu.dropout_forward_gpu(self, bottom, top)  # layers_cuda/neuron.cu

    def backward_cpu(self, top, propagate_down, bottom):
        self._backward(top, propagate_down, bottom, gpu=False)

    def backward_gpu(self, top, propagate_down, bottom):
        neuron_gpu.dropout_backward_gpu(self, top, propagate_down, bottom)
