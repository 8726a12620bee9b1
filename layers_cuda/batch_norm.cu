// BatchNorm (Caffe's batch_norm_layer.cu) over (num, channels, spatial) blobs.
// Per-channel statistics are reduced in two deterministic steps without atomics: each
// thread sums one chunk of one channel (bn_reduce), then the host sums the chunks of each
// channel (a small reduction over a (channels, chunks) array).
#include "common.cuh"

// Thread (c, j) sums positions p in [j*chunk, (j+1)*chunk) of channel c, position p being
// (n, s) = (p / spatial, p % spatial).  mode 0: sum a; 1: sum (a - center[c])^2; 2: sum a*b.
extern "C" __global__ void bn_reduce(
    const int n, const Dtype* a, const Dtype* b, const Dtype* center, const int mode,
    const int num, const int channels, const int spatial, const int chunk, Dtype* partial) {
  const int positions = num * spatial;
  const int chunks = (positions + chunk - 1) / chunk;
  CUDA_KERNEL_LOOP(index, n) {
    const int c = index / chunks;
    const int j = index % chunks;
    const int end = kmin((j + 1) * chunk, positions);
    const Dtype mean = mode == 1 ? center[c] : Dtype(0);
    Dtype acc = 0;
    for (int p = j * chunk; p < end; ++p) {
      const long long e = ((long long)(p / spatial) * channels + c) * spatial + p % spatial;
      if (mode == 0) {
        acc += a[e];
      } else if (mode == 1) {
        const Dtype d = a[e] - mean;
        acc += d * d;
      } else {
        acc += a[e] * b[e];
      }
    }
    partial[index] = acc;
  }
}

// y = (x - mean[c]) / std[c]
extern "C" __global__ void bn_normalize(
    const int n, const Dtype* x, const Dtype* mean, const Dtype* stdev, const int channels,
    const int spatial, Dtype* y) {
  CUDA_KERNEL_LOOP(i, n) {
    const int c = (i / spatial) % channels;
    y[i] = (x[i] - mean[c]) / stdev[c];
  }
}

// Batch statistics: dx = (dy - mean(dy) - mean(dy * y) * y) / std   (Caffe's formula);
// global statistics (use_global_stats): dx = dy / std.
extern "C" __global__ void bn_backward(
    const int n, const Dtype* top_diff, const Dtype* top, const Dtype* mean_dy,
    const Dtype* mean_dy_y, const Dtype* stdev, const int channels, const int spatial,
    const int global_stats, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    const int c = (i / spatial) % channels;
    if (global_stats) {
      bottom_diff[i] = top_diff[i] / stdev[c];
    } else {
      bottom_diff[i] = (top_diff[i] - mean_dy[c] - mean_dy_y[c] * top[i]) / stdev[c];
    }
  }
}

// The running statistics: run = f * run + value (value: mean, or the unbiased variance
// correction * var), and std = sqrt(var + eps) for the forward pass.
extern "C" __global__ void bn_update_stats(
    const int n, const Dtype* mean, const Dtype* var, const Dtype fraction, const Dtype correction,
    const Dtype eps, Dtype* run_mean, Dtype* run_var, Dtype* stdev) {
  CUDA_KERNEL_LOOP(c, n) {
    run_mean[c] = run_mean[c] * fraction + mean[c];
    run_var[c] = run_var[c] * fraction + correction * var[c];
    stdev[c] = k_sqrt(var[c] + eps);
  }
}

// Global statistics: mean = run_mean * factor, std = sqrt(run_var * factor + eps) with
// factor = 1 / run_norm (0 when run_norm is 0), read on the device.
extern "C" __global__ void bn_global_stats(
    const int n, const Dtype* run_mean, const Dtype* run_var, const Dtype* run_norm,
    const Dtype eps, Dtype* mean, Dtype* stdev) {
  CUDA_KERNEL_LOOP(c, n) {
    const Dtype s = run_norm[0];
    const Dtype factor = s == Dtype(0) ? Dtype(0) : Dtype(1) / s;
    mean[c] = run_mean[c] * factor;
    stdev[c] = k_sqrt(run_var[c] * factor + eps);
  }
}
