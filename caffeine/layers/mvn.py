"""MVN: mean-variance normalization per (sample, channel) or per sample (Caffe's MVNLayer).

Rows are the samples (across_channels) or the sample-channel pairs; each row gets its
mean subtracted and, with normalize_variance, is divided by ``std + eps`` -- Caffe adds
eps to the standard deviation, not to the variance.

Backward is the exact derivative of that forward.  Caffe's backward uses
(dy - mean(dy) - y * mean(dy * y)) / (std + eps), which is exact only for eps = 0; the
difference is a factor (std + eps) / std on the last term, negligible at the
default eps = 1e-9.
"""
import numpy as np

from caffeine.cuda_layers import mvn_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("MVN")
class MVNLayer(Layer):
    exact_num_bottom = 1
    exact_num_top = 1
    allow_inplace = True
    has_gpu_kernel = True  # layers_cuda/mvn.cu

    def reshape(self, bottom, top):
        p = self.layer_param.mvn_param
        b = bottom[0]
        self.rows = b.num if p.across_channels else b.num * b.channels
        self.dim = b.count() // self.rows if self.rows else 0
        if top[0] is not b:
            top[0].reshape(b.shape)

    def forward_cpu(self, bottom, top):
        p = self.layer_param.mvn_param
        x = bottom[0].data.reshape(self.rows, self.dim)
        xc = x - x.mean(axis=1, keepdims=True)
        if p.normalize_variance:
            self.sigma = np.sqrt(np.mean(xc * xc, axis=1, keepdims=True))
            self.denom = (self.sigma + p.eps).astype(x.dtype, copy=False)
            xc /= self.denom
        top[0].data.reshape(self.rows, self.dim)[...] = xc

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        p = self.layer_param.mvn_param
        dy = top[0].diff.reshape(self.rows, self.dim)
        dx = dy - dy.mean(axis=1, keepdims=True)
        if p.normalize_variance:
            y = top[0].data.reshape(self.rows, self.dim)
            # d/dx of (x - mean) / (sigma + eps); the sigma term carries (sigma + eps) / sigma
            ratio = np.divide(self.denom, self.sigma, out=np.ones_like(self.denom), where=self.sigma > 0)
            dx -= y * (np.mean(dy * y, axis=1, keepdims=True) * ratio)
            dx /= self.denom
        bottom[0].diff.reshape(self.rows, self.dim)[...] = dx

    def forward_gpu(self, bottom, top):
        mvn_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        mvn_gpu.backward_gpu(self, top, propagate_down, bottom)
