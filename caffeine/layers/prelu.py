"""PReLU, as Caffe's PReLULayer: y = max(x, 0) + a_c min(x, 0) with a learnable slope a
per channel (axis 1) or one slope for all channels (channel_shared)."""
import math

from caffeine import backend, fillers
from caffeine.cuda_layers import neuron_gpu
from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import NeuronLayer


@register_layer("PReLU")
class PReLULayer(NeuronLayer):
    has_gpu_kernel = True  # layers_cuda/neuron.cu

    def setup(self, bottom, top):
        self._check_axes(bottom)
        pp = self.layer_param.prelu_param
        self.channel_shared = bool(pp.channel_shared)
        channels = bottom[0].shape[1]
        if not self.blobs:
            self.blobs = [self.new_blob() if self.channel_shared else self.new_blob(channels)]
            if pp.HasField("filler"):
                filler = pp.filler
            else:
                filler = self.caffe_pb2.FillerParameter(type="constant", value=0.25)
            try:
                fillers.fill(self.blobs[0], filler)
            except ConfigError as exc:
                raise exc.with_context(layer=self.name, layer_type=self.type, field="prelu_param.filler")
        expected = 1 if self.channel_shared else channels
        if self.blobs[0].count() != expected:
            raise self.error("negative slope size is inconsistent with prototxt config",
                             cls=ShapeError, expected=expected, found=self.blobs[0].count())
        self.param_propagate_down = [True]
        self._bottom_copy = None

    def _check_axes(self, bottom):
        if bottom[0].num_axes < 2:
            raise self.error("number of axes of bottom blob must be >= 2", cls=ShapeError,
                             expected=">= 2 axes", found=bottom[0].shape)

    def reshape(self, bottom, top):
        self._check_axes(bottom)
        channels = bottom[0].shape[1]
        if not self.channel_shared and self.blobs[0].count() != channels:
            raise self.error("PReLU has one slope per channel; the bottom's channel count changed",
                             cls=ShapeError, expected=self.blobs[0].count(), found=channels)
        super().reshape(bottom, top)

    def _slope(self, gpu):
        """The slopes, broadcastable against x viewed as (num, channels, inner)."""
        s = self.blobs[0].data_for(gpu)
        return s.reshape(1, 1, 1) if self.channel_shared else s.reshape(1, -1, 1)

    @staticmethod
    def _as3d(a):
        # Caffe's indexing: channel c = (i / dim) % channels with dim = count(2)
        return a.reshape(a.shape[0], a.shape[1], math.prod(a.shape[2:]))

    def _forward(self, bottom, top, gpu):
        x = bottom[0].data_for(gpu)
        # in place, keep the input for backward (Caffe's bottom_memory_)
        self._bottom_copy = x.copy() if top[0] is bottom[0] else None
        xp = backend.get_array_module(x)
        x3 = self._as3d(x)
        y = xp.where(x3 > 0, x3, x3 * self._slope(gpu))
        top[0].data_for(gpu)[...] = y.reshape(x.shape)

    def _backward(self, top, propagate_down, bottom, gpu):
        x = self._bottom_copy if top[0] is bottom[0] else bottom[0].data_for(gpu)
        if x is None:
            raise self.error("backward called before an in-place forward")
        xp = backend.get_array_module(x)
        x3 = self._as3d(x)
        dy3 = self._as3d(top[0].diff_for(gpu))
        negative = x3 <= 0
        # slope gradient first: in place, writing the bottom diff overwrites the top diff
        if self.param_propagate_down[0]:
            contrib = xp.where(negative, dy3 * x3, 0)
            sdiff = self.blobs[0].diff_for(gpu)
            if self.channel_shared:
                sdiff[...] += contrib.sum()
            else:
                sdiff[...] += contrib.sum(axis=(0, 2))
        if propagate_down[0]:
            dx = xp.where(negative, dy3 * self._slope(gpu), dy3)
            bottom[0].diff_for(gpu)[...] = dx.reshape(x.shape)

    def forward_cpu(self, bottom, top):
        self._forward(bottom, top, gpu=False)

    def forward_gpu(self, bottom, top):
        neuron_gpu.prelu_forward_gpu(self, bottom, top)  # layers_cuda/neuron.cu

    def backward_cpu(self, top, propagate_down, bottom):
        self._backward(top, propagate_down, bottom, gpu=False)

    def backward_gpu(self, top, propagate_down, bottom):
        neuron_gpu.prelu_backward_gpu(self, top, propagate_down, bottom)
