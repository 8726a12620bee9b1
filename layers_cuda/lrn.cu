// Local Response Normalization (Caffe's lrn_layer.cu), both regions, one thread per element.
//   scale = shift + coef * S(x^2),   top = x * scale^-beta
//   dx = dy * scale^-beta - 2 coef beta x * S(dy * top / scale)
// S sums a window of `size` values centred on the element (zero padding (size-1)/2):
// ACROSS_CHANNELS over neighbouring channels (shift k, coef alpha/size); WITHIN_CHANNEL over
// a size x size spatial box (shift 1, coef alpha/size^2: Caffe's AVE pooling of the
// squares, whose divisor is always size^2 for that geometry).  The window is symmetric, so
// the backward window sum is the same S.
#include "common.cuh"

// The terms summed over an element's window: x^2 for the scale, dy * y / scale for the diff.
struct SquareTerm {
  const Dtype* x;
  __device__ __forceinline__ Dtype operator()(long long o) const { return x[o] * x[o]; }
};
struct DiffTerm {
  const Dtype* top_diff; const Dtype* top; const Dtype* scale;
  __device__ __forceinline__ Dtype operator()(long long o) const { return top_diff[o] * top[o] / scale[o]; }
};

// S over the `size` channels centred on element `index` of an (N, channels, spatial) array.
template <typename Term>
__device__ __forceinline__ Dtype across_window_sum(const int index, const int channels, const int spatial,
                                                   const int size, const Term term) {
  const int pre_pad = (size - 1) / 2;
  const int c = (index / spatial) % channels;
  const long long base = index - (long long)c * spatial;
  const int last = kmin(c - pre_pad + size, channels);
  Dtype accum = 0;
  for (int j = kmax(c - pre_pad, 0); j < last; ++j) accum += term(base + (long long)j * spatial);
  return accum;
}

// S over the size x size box centred on element `index` of its (height, width) plane.
template <typename Term>
__device__ __forceinline__ Dtype within_window_sum(const int index, const int height, const int width,
                                                   const int size, const Term term) {
  const int pre_pad = (size - 1) / 2;
  const int w = index % width;
  const int h = (index / width) % height;
  const long long plane = index - (long long)h * width - w;
  const int he = kmin(h - pre_pad + size, height), we = kmin(w - pre_pad + size, width);
  Dtype accum = 0;
  for (int y = kmax(h - pre_pad, 0); y < he; ++y) {
    for (int x = kmax(w - pre_pad, 0); x < we; ++x) accum += term(plane + y * width + x);
  }
  return accum;
}

extern "C" __global__ void lrn_across_scale(
    const int n, const Dtype* in, const int channels, const int spatial, const int size,
    const Dtype shift, const Dtype coef, Dtype* scale) {
  const SquareTerm term = {in};
  CUDA_KERNEL_LOOP(index, n) {
    scale[index] = shift + coef * across_window_sum(index, channels, spatial, size, term);
  }
}

extern "C" __global__ void lrn_within_scale(
    const int n, const Dtype* in, const int height, const int width, const int size,
    const Dtype shift, const Dtype coef, Dtype* scale) {
  const SquareTerm term = {in};
  CUDA_KERNEL_LOOP(index, n) {
    scale[index] = shift + coef * within_window_sum(index, height, width, size, term);
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
  const DiffTerm term = {top_diff, top, scale};
  CUDA_KERNEL_LOOP(index, n) {
    bottom_diff[index] = top_diff[index] * k_pow(scale[index], negative_beta)
                         - cache_ratio * bottom[index] * across_window_sum(index, channels, spatial, size, term);
  }
}

extern "C" __global__ void lrn_within_diff(
    const int n, const Dtype* bottom, const Dtype* top, const Dtype* scale, const Dtype* top_diff,
    const int height, const int width, const int size, const Dtype negative_beta,
    const Dtype cache_ratio, Dtype* bottom_diff) {
  const DiffTerm term = {top_diff, top, scale};
  CUDA_KERNEL_LOOP(index, n) {
    bottom_diff[index] = top_diff[index] * k_pow(scale[index], negative_beta)
                         - cache_ratio * bottom[index] * within_window_sum(index, height, width, size, term);
  }
}
