// Tile (Caffe's tile_layer.cu): the bottom seen as (outer, inner) becomes the top
// (outer, tiles, inner); backward sums the tiles.
#include "common.cuh"

extern "C" __global__ void tile_forward(const int n, const Dtype* bottom, const int tiles,
                                        const int inner, Dtype* top) {
  CUDA_KERNEL_LOOP(index, n) {
    const int i = index % inner;
    const int o = index / (inner * tiles);
    top[index] = bottom[(long long)o * inner + i];
  }
}

// One thread per bottom element: the sum of its copies, in tile order.
extern "C" __global__ void tile_backward(const int n, const Dtype* top_diff, const int tiles,
                                         const int inner, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    const int i = index % inner;
    const int o = index / inner;
    const Dtype* src = top_diff + (long long)o * tiles * inner + i;
    Dtype sum = 0;
    for (int t = 0; t < tiles; ++t) sum += src[(long long)t * inner];
    bottom_diff[index] = sum;
  }
}
