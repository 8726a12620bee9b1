"""Spatial Pyramid Pooling (Caffe's SPPLayer).

Caffe builds split -> (pooling -> flatten) per level -> concat.  Here each level is a
``Pooler`` writing straight into its slice of the top, and the backward sums the levels'
bottom diffs.  Level l has 2^l bins per axis; Caffe's GetPoolingParam gives it
kernel = ceil(H / bins), stride = kernel, pad = (kernel * bins - H + 1) // 2 (per axis).
With pyramid_height 1 the top is the single level's pooled blob (N, C, 1, 1), unflattened,
as in Caffe; otherwise it is (N, sum over levels of C * out_h * out_w).
"""
import math

import numpy as np

from caffeine.cuda_layers import spp_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import require_nchw
from caffeine.layers.base import Layer
from caffeine.layers.pooling_ops import STOCHASTIC, PoolGeometry, Pooler


def level_pooling(level, height, width):
    """Caffe's SPPLayer::GetPoolingParam: (kernel_h, kernel_w, pad_h, pad_w) of one level."""
    bins = 2 ** level
    kernel_h = math.ceil(height / bins)
    kernel_w = math.ceil(width / bins)
    pad_h = (kernel_h * bins - height + 1) // 2
    pad_w = (kernel_w * bins - width + 1) // 2
    return kernel_h, kernel_w, pad_h, pad_w


@register_layer("SPP")
class SPPLayer(Layer):
    exact_num_bottom = 1
    exact_num_top = 1
    has_gpu_kernel = True  # pooling.cu per level + concat.cu (caffeine/cuda_layers/spp_gpu.py)

    def setup(self, bottom, top):
        p = self.layer_param.spp_param
        if not p.HasField("pyramid_height") or p.pyramid_height < 1:
            raise self.error("spp_param.pyramid_height must be at least 1", field="pyramid_height",
                             expected=">= 1", found=p.pyramid_height if p.HasField("pyramid_height") else None)
        self.height_levels = int(p.pyramid_height)
        if p.pool not in (0, 1, 2):
            raise self.error("unknown pooling method", field="pool", expected="MAX, AVE or STOCHASTIC",
                             found=p.pool)
        self.method = p.pool
        self._key = None
        self.levels = []

    def reshape(self, bottom, top):
        b = bottom[0]
        require_nchw(self, b)
        n, c, h, w = b.shape
        if h <= 0 or w <= 0:
            raise self.error("input dimensions cannot be zero", cls=ShapeError, blob=b.name,
                             expected="height, width > 0", found=(h, w))
        if self._key != (h, w):
            train = self.phase == self.caffe_pb2.TRAIN
            self.levels = []
            for level in range(self.height_levels):
                kh, kw, ph, pw = level_pooling(level, h, w)
                # Caffe's PoolingLayer aborts on these (CHECK_LT(pad, kernel), "Padding
                # implemented only for average and max pooling").
                if ph >= kh or pw >= kw:
                    raise self.error(
                        f"pyramid level {level} ({2 ** level} bins) needs pad ({ph}, {pw}) >= kernel "
                        f"({kh}, {kw}) on a {h}x{w} input; use a larger input or a lower pyramid_height",
                        cls=ShapeError, field="pyramid_height", blob=b.name,
                        expected=f"pyramid_height <= {level}", found=self.height_levels)
                if (ph or pw) and self.method == STOCHASTIC:
                    raise self.error(f"pyramid level {level} needs padding on a {h}x{w} input, and "
                                     "STOCHASTIC pooling has no padding", cls=ShapeError, field="pool",
                                     blob=b.name)
                geom = PoolGeometry(h, w, kh, kw, kh, kw, ph, pw)
                self.levels.append(Pooler(geom, self.method, train))
            self._key = (h, w)
        if self.height_levels == 1:
            g = self.levels[0].geom
            top[0].reshape(n, c, g.out_h, g.out_w)
        else:
            top[0].reshape(n, sum(c * p.geom.out_h * p.geom.out_w for p in self.levels))

    def _level_slices(self, n, c):
        start = 0
        for pooler in self.levels:
            g = pooler.geom
            size = c * g.out_h * g.out_w
            yield pooler, slice(start, start + size), (n, c, g.out_h, g.out_w)
            start += size

    def forward_cpu(self, bottom, top):
        x = bottom[0].host_data_readonly
        n, c = x.shape[:2]
        out = top[0].data.reshape(n, -1)
        for pooler, cols, shape in self._level_slices(n, c):
            level_out = np.empty(shape, dtype=x.dtype)
            pooler.forward(x, level_out, self.rng)
            out[:, cols] = level_out.reshape(n, -1)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        x = bottom[0].host_data_readonly
        n, c = x.shape[:2]
        dy = top[0].host_diff_readonly.reshape(n, -1)
        dx = bottom[0].diff
        dx.fill(0)
        for pooler, cols, shape in self._level_slices(n, c):
            pooler.backward(x, np.ascontiguousarray(dy[:, cols]).reshape(shape), dx, accumulate=True)

    def forward_gpu(self, bottom, top):
        spp_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        spp_gpu.backward_gpu(self, top, propagate_down, bottom)
