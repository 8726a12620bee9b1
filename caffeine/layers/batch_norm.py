"""BatchNorm: normalize each channel to zero mean, unit variance (Caffe's BatchNormLayer).

Three blobs, none learned by the solver: blobs[0] the running sum of means,
blobs[1] the running sum of (unbiased) variances, blobs[2] the running normalizer,
so the stored estimates are blobs[0]/blobs[2] and blobs[1]/blobs[2].  In TRAIN
(use_global_stats false, the default outside TEST) each forward uses the batch's
statistics over N and the spatial axes and updates, with f = moving_average_fraction:
    blobs[2] = f * blobs[2] + 1
    blobs[0] = f * blobs[0] + mean
    blobs[1] = f * blobs[1] + m / (m - 1) * var        (m = N * spatial, biased var)
With use_global_stats the stored estimates are used (scale 1/blobs[2], 0 if blobs[2]
is 0).  There is no learned affine part: nets follow BatchNorm with a Scale layer.

Caffe masks the statistics from the solver by giving them lr_mult 0 (and refuses a
non-zero lr_mult); caffeine does the same, and also sets param_propagate_down to
False for all three blobs, so backward never writes their diffs.
"""
import numpy as np

from caffeine.cuda_layers import batch_norm_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


@register_layer("BatchNorm")
class BatchNormLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1
    allow_inplace = True

    def setup(self, bottom, top):
        p = self.layer_param.batch_norm_param
        self.moving_average_fraction = float(p.moving_average_fraction)
        self.use_global_stats = self.phase == self.caffe_pb2.TEST
        if p.HasField("use_global_stats"):
            self.use_global_stats = p.use_global_stats
        self.eps = float(p.eps)
        if bottom[0].num_axes < 2:
            raise self.error("BatchNorm needs a bottom with at least 2 axes (N x C x ...)", cls=ShapeError,
                             blob=bottom[0].name, expected=">= 2 axes", found=bottom[0].shape)
        self.channels = bottom[0].shape[1]
        if not self.blobs:
            self.blobs = [self.new_blob(self.channels), self.new_blob(self.channels), self.new_blob(1)]
            for b in self.blobs:
                b.data[...] = 0
        # mask the statistics from optimization, as Caffe does
        specs = self.layer_param.param
        for i in range(len(self.blobs)):
            if len(specs) == i:
                specs.add().lr_mult = 0.0
            elif specs[i].lr_mult != 0:
                raise self.error("cannot configure batch normalization statistics as layer parameters "
                                 f"(param {i} must have lr_mult 0)", field="lr_mult",
                                 expected=0, found=specs[i].lr_mult)
        self.param_propagate_down = [False] * len(self.blobs)

    def reshape(self, bottom, top):
        b = bottom[0]
        if b.num_axes < 2 or b.shape[1] != self.channels:
            raise self.error("bottom channels changed since setup", cls=ShapeError, blob=b.name,
                             expected=self.channels, found=b.shape[1] if b.num_axes >= 2 else b.shape)
        if top[0] is not b:
            top[0].reshape(b.shape)
        self.num = b.shape[0]
        self.spatial = b.count(2)

    def _view(self, array):
        return array.reshape(self.num, self.channels, self.spatial)

    def forward_cpu(self, bottom, top):
        x = self._view(bottom[0].data)
        if self.use_global_stats:
            s = self.blobs[2].data[0]
            factor = 0 if s == 0 else 1 / s
            mean = self.blobs[0].data * factor
            var = self.blobs[1].data * factor
            xc = x - mean[None, :, None]
        else:
            # reductions over N and spatial: sum the contiguous last axis first (fast), then N
            m = x.shape[0] * x.shape[2]
            mean = (x.sum(axis=2).sum(axis=0) / m).astype(x.dtype, copy=False)
            xc = x - mean[None, :, None]
            var = np.einsum("ncs,ncs->nc", xc, xc).sum(axis=0) / m
            f = self.moving_average_fraction
            correction = m / (m - 1) if m > 1 else 1.0
            self.blobs[2].data[...] = self.blobs[2].data * f + 1
            self.blobs[0].data[...] = self.blobs[0].data * f + mean
            self.blobs[1].data[...] = self.blobs[1].data * f + correction * var
        self.std = np.sqrt(var + self.eps).astype(x.dtype, copy=False)
        xc *= (1 / self.std)[None, :, None]   # xc is a fresh array: normalize it in place
        self.x_norm = xc                      # kept apart from top: an in-place ReLU may follow
        self._view(top[0].data)[...] = xc

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        dy = self._view(top[0].diff)
        inv_std = (1 / self.std)[None, :, None]
        if self.use_global_stats:
            dx = dy * inv_std
        else:
            # dE/dX = (dE/dY - mean(dE/dY) - mean(dE/dY * Y) * Y) / sqrt(var + eps)
            y = self.x_norm
            m = dy.shape[0] * dy.shape[2]
            mean_dy = dy.sum(axis=2).sum(axis=0) / m
            mean_dy_y = np.einsum("ncs,ncs->nc", dy, y).sum(axis=0) / m
            dx = y * mean_dy_y.astype(dy.dtype, copy=False)[None, :, None]
            dx += mean_dy.astype(dy.dtype, copy=False)[None, :, None]
            np.subtract(dy, dx, out=dx)
            dx *= inv_std
        self._view(bottom[0].diff)[...] = dx

    def forward_gpu(self, bottom, top):
        batch_norm_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        batch_norm_gpu.backward_gpu(self, top, propagate_down, bottom)
