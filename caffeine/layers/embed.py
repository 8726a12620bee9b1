"""Embed (Caffe's EmbedLayer): a lookup table, ``top[..., :] = W[index] + b``.

Bottom values are integer indices in ``[0, input_dim)`` (stored as floats); the
weight is ``(input_dim, num_output)``; top shape ``bottom.shape + (num_output,)``.
Gradients flow to the weight and bias only, never to the indices.
"""
import numpy as np

from caffeine import fillers
from caffeine.cuda_layers import index_copy_gpu
from caffeine.errors import DataError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("Embed")
class EmbedLayer(Layer):
    exact_num_bottom = 1
    exact_num_top = 1
    has_gpu_kernel = True  # layers_cuda/index_copy.cu

    def setup(self, bottom, top):
        ep = self.layer_param.embed_param
        self.N = int(ep.num_output)
        if self.N <= 0:
            raise self.error("num_output must be positive", field="num_output", expected="> 0", found=self.N)
        self.K = int(ep.input_dim)
        if self.K <= 0:
            raise self.error("input_dim must be positive", field="input_dim", expected="> 0", found=self.K)
        self.bias_term = bool(ep.bias_term)
        self.blobs = [self.new_blob(self.K, self.N)]
        fillers.fill(self.blobs[0], ep.weight_filler, self.rng)
        if self.bias_term:
            self.blobs.append(self.new_blob(self.N))
            fillers.fill(self.blobs[1], ep.bias_filler, self.rng)
        self.param_propagate_down = [True] * len(self.blobs)

    def reshape(self, bottom, top):
        top[0].reshape(bottom[0].shape + (self.N,))

    def allow_force_backward(self, bottom_index):
        return False  # indices have no gradient (Caffe CHECK-fails instead)

    def _indices(self, bottom):
        values = bottom[0].data.reshape(-1)
        finite = np.isfinite(values)
        index = np.where(finite, np.clip(values, -1, self.K), -1).astype(np.int64)
        bad = ~finite | (index != values) | (index < 0) | (index >= self.K)
        if bad.any():
            first = values[np.argmax(bad)]
            raise self.error("Embed input must hold integer indices below input_dim", cls=DataError,
                             blob=bottom[0].name, expected=f"integers in [0, {self.K})", found=first)
        return index

    def forward_cpu(self, bottom, top):
        y = top[0].data.reshape(-1, self.N)
        np.take(self.blobs[0].data, self._indices(bottom), axis=0, out=y)
        if self.bias_term:
            y += self.blobs[1].data

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            raise self.error("can't backpropagate to Embed input (the indices)")
        dy = top[0].diff.reshape(-1, self.N)
        if self.param_propagate_down[0]:
            np.add.at(self.blobs[0].diff, self._indices(bottom), dy)  # repeated indices sum
        if self.bias_term and self.param_propagate_down[1]:
            self.blobs[1].diff += dy.sum(axis=0)

    def forward_gpu(self, bottom, top):
        index_copy_gpu.embed_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        index_copy_gpu.embed_backward_gpu(self, top, propagate_down, bottom)
