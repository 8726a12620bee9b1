"""Tile: repeat the block of axes from ``axis`` on ``tiles`` times (Caffe's TileLayer).

Viewing the bottom as (outer, inner) with inner = count(axis), the top is
(outer, tiles, inner): each inner block copied ``tiles`` times in a row.
"""
import numpy as np

from caffeine.cuda_layers import structure_gpu
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import canonical_axis
from caffeine.layers.base import Layer


@register_layer("Tile")
class TileLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1

    def setup(self, bottom, top):
        p = self.layer_param.tile_param
        if p.tiles <= 0:
            raise self.error("number of tiles must be positive", field="tiles", expected="> 0", found=p.tiles)

    def reshape(self, bottom, top):
        p = self.layer_param.tile_param
        b = bottom[0]
        axis = canonical_axis(self, b, p.axis)
        self.tiles = int(p.tiles)
        self.outer = b.count(0, axis)
        self.inner = b.count(axis)
        shape = list(b.shape)
        shape[axis] *= self.tiles
        top[0].reshape(shape)

    def forward_cpu(self, bottom, top):
        src = bottom[0].data.reshape(self.outer, 1, self.inner)
        top[0].data.reshape(self.outer, self.tiles, self.inner)[...] = np.broadcast_to(
            src, (self.outer, self.tiles, self.inner))

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[0]:
            diff = top[0].diff.reshape(self.outer, self.tiles, self.inner)
            bottom[0].diff.reshape(self.outer, self.inner)[...] = diff.sum(axis=1)

    def forward_gpu(self, bottom, top):
        structure_gpu.tile_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.tile_backward_gpu(self, top, propagate_down, bottom)
