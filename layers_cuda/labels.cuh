// Labels as Caffe reads them: static_cast<int>(label), truncation toward zero.  Shared by the
// loss and accuracy kernels (softmax.cu, prob_losses.cu, accuracy.cu, losses.cu).
#pragma once
#include "common.cuh"

// raw lies strictly inside int's range, so (int)raw is defined (NaN never does).
__device__ __forceinline__ bool k_fits_int(const Dtype raw) {
  return raw > Dtype(-2147483648.0) && raw < Dtype(2147483647.0);
}

// 1: the label counts (its class in *label); 0: it equals ignore_label (checked first, as in
// Caffe, so ignore_label wins even inside [0, channels)); -1: outside [0, channels) and not
// ignored (NaN too), for which the layers raise the CPU's DataError.
// trunc(raw) in [0, channels) <=> -1 < raw < channels.
__device__ __forceinline__ int k_label_state(const Dtype raw, const int channels, const int has_ignore,
                                             const int ignore_label, int* label) {
  const bool in_range = raw > Dtype(-1) && raw < Dtype(channels);
  const bool fits = k_fits_int(raw);
  const int value = fits ? (int)raw : 0;
  *label = in_range ? value : 0;
  if (has_ignore && fits && value == ignore_label) return 0;
  return in_range ? 1 : -1;
}
