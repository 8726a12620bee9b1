"""InnerProduct (Caffe's InnerProductLayer): ``top = bottom @ W^T + b``.

The bottom is flattened from ``axis`` on into ``K`` inputs per row (``M`` rows =
count before ``axis``); the weight is ``(num_output, K)``, or ``(K, num_output)``
with ``transpose: true``; top shape ``bottom.shape[:axis] + (num_output,)``.
"""
import numpy as np

from caffeine import fillers
from caffeine.cuda_layers import inner_product_gpu
from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("InnerProduct")
class InnerProductLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1

    def _axis(self, bottom):
        try:
            return bottom[0].canonical_axis_index(self.layer_param.inner_product_param.axis)
        except ConfigError as exc:
            raise exc.with_context(layer=self.name, layer_type=self.type, field="axis") from None

    def setup(self, bottom, top):
        ip = self.layer_param.inner_product_param
        self.N = int(ip.num_output)
        if self.N <= 0:
            raise self.error("num_output must be positive", field="num_output", expected="> 0", found=self.N)
        self.bias_term = bool(ip.bias_term)
        self.transpose = bool(ip.transpose)
        self.K = bottom[0].count(self._axis(bottom))
        shape = (self.K, self.N) if self.transpose else (self.N, self.K)
        self.blobs = [self.new_blob(*shape)]
        fillers.fill(self.blobs[0], ip.weight_filler, self.rng)
        if self.bias_term:
            self.blobs.append(self.new_blob(self.N))
            fillers.fill(self.blobs[1], ip.bias_filler, self.rng)
        self.param_propagate_down = [True] * len(self.blobs)

    def reshape(self, bottom, top):
        axis = self._axis(bottom)
        k = bottom[0].count(axis)
        if k != self.K:
            raise self.error("input size incompatible with inner product parameters", cls=ShapeError,
                             expected=f"{self.K} inputs per row", found=k)
        self.M = bottom[0].count(0, axis)
        top[0].reshape(bottom[0].shape[:axis] + (self.N,))

    def _weight_nk(self):
        """The weight as (N, K) (a transposed view when stored as (K, N))."""
        w = self.blobs[0].data
        return w.T if self.transpose else w

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(self.M, self.K)
        y = top[0].data.reshape(self.M, self.N)
        np.matmul(x, self._weight_nk().T, out=y)
        if self.bias_term:
            y += self.blobs[1].data

    def backward_cpu(self, top, propagate_down, bottom):
        dy = top[0].diff.reshape(self.M, self.N)
        if self.param_propagate_down[0]:
            x = bottom[0].data.reshape(self.M, self.K)
            if self.transpose:
                self.blobs[0].diff += x.T @ dy   # (K, N)
            else:
                self.blobs[0].diff += dy.T @ x   # (N, K)
        if self.bias_term and self.param_propagate_down[1]:
            self.blobs[1].diff += dy.sum(axis=0)
        if propagate_down[0]:
            np.matmul(dy, self._weight_nk(), out=bottom[0].diff.reshape(self.M, self.K))

    def forward_gpu(self, bottom, top):
        inner_product_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        inner_product_gpu.backward_gpu(self, top, propagate_down, bottom)
