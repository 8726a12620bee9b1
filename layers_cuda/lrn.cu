// Local Response Normalization (Caffe's lrn_layer.cu), both regions, one thread per element.
//   scale = shift + coef * S(x^2),   top = x * scale^-beta
//   dx = dy * scale^-beta - 2 coef beta x * S(dy * top / scale)
// S sums a window of `size` values centred on the element (zero padding (size-1)/2):
// ACROSS_CHANNELS over neighbouring channels (shift k, coef alpha/size); WITHIN_CHANNEL over
// a size x size spatial box (shift 1, coef alpha/size^2: Caffe's AVE pooling of the
// squares, whose divisor is always size^2 for that geometry).  The window is symmetric, so
// the backward window sum is the same S.
#include "common.cuh"

extern "C" __global__ void lrn_across_scale(
    const int n, const Dtype* in, const int channels, const int spatial, const int size,
    const Dtype shift, const Dtype coef, Dtype* scale) {
  const int pre_pad = (size - 1) / 2;
  CUDA_KERNEL_LOOP(index, n) {
    const int c = (index / spatial) % channels;
    const long long base = index - (long long)c * spatial;
    const int first = kmax(c - pre_pad, 0);
    const int last = kmin(c - pre_pad + size, channels);
    Dtype accum = 0;
    for (int j = first; j < last; ++j) {
      const Dtype v = in[base + (long long)j * spatial];
      accum += v * v;
    }
    scale[index] = shift + coef * accum;
  }
}

extern "C" __global__ void lrn_within_scale(
    const int n, const Dtype* in, const int height, const int width, const int size,
    const Dtype shift, const Dtype coef, Dtype* scale) {
  const int pre_pad = (size - 1) / 2;
  CUDA_KERNEL_LOOP(index, n) {
    const int w = index % width;
    const int h = (index / width) % height;
    const long long plane = index - (long long)h * width - w;
    const int hs = kmax(h - pre_pad, 0), he = kmin(h - pre_pad + size, height);
    const int ws = kmax(w - pre_pad, 0), we = kmin(w - pre_pad + size, width);
    Dtype accum = 0;
    for (int y = hs; y < he; ++y) {
      for (int x = ws; x < we; ++x) {
        const Dtype v = in[plane + y * width + x];
        accum += v * v;
      }
    }
    scale[index] = shift + coef * accum;
  }
}

// Caffe's LRNComputeOutput.
extern "C" __global__ void lrn_output(
    const int n, const Dtype* in, const Dtype* scale, const Dtype negative_beta, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    out[index] = in[index] * k_pow(scale[index], negative_beta);
  }
}

// Caffe's LRNComputeDiff (per element instead of per column).
extern "C" __global__ void lrn_across_diff(
    const int n, const Dtype* bottom, const Dtype* top, const Dtype* scale, const Dtype* top_diff,
    const int channels, const int spatial, const int size, const Dtype negative_beta,
    const Dtype cache_ratio, Dtype* bottom_diff) {
  const int pre_pad = (size - 1) / 2;
  CUDA_KERNEL_LOOP(index, n) {
    const int c = (index / spatial) % channels;
    const long long base = index - (long long)c * spatial;
    const int first = kmax(c - pre_pad, 0);
    const int last = kmin(c - pre_pad + size, channels);
    Dtype accum = 0;
    for (int j = first; j < last; ++j) {
      const long long o = base + (long long)j * spatial;
      accum += top_diff[o] * top[o] / scale[o];
    }
    bottom_diff[index] = top_diff[index] * k_pow(scale[index], negative_beta)
                         - cache_ratio * bottom[index] * accum;
  }
}

extern "C" __global__ void lrn_within_diff(
    const int n, const Dtype* bottom, const Dtype* top, const Dtype* scale, const Dtype* top_diff,
    const int height, const int width, const int size, const Dtype negative_beta,
    const Dtype cache_ratio, Dtype* bottom_diff) {
  const int pre_pad = (size - 1) / 2;
  CUDA_KERNEL_LOOP(index, n) {
    const int w = index % width;
    const int h = (index / width) % height;
    const long long plane = index - (long long)h * width - w;
    const int hs = kmax(h - pre_pad, 0), he = kmin(h - pre_pad + size, height);
    const int ws = kmax(w - pre_pad, 0), we = kmin(w - pre_pad + size, width);
    Dtype accum = 0;
    for (int y = hs; y < he; ++y) {
      for (int x = ws; x < we; ++x) {
        const long long o = plane + y * width + x;
        accum += top_diff[o] * top[o] / scale[o];
      }
    }
    bottom_diff[index] = top_diff[index] * k_pow(scale[index], negative_beta)
                         - cache_ratio * bottom[index] * accum;
  }
}
