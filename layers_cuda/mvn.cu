// MVN (Caffe's mvn_layer.cu) over a blob seen as (rows, dim): rows are the samples
// (across_channels) or the (sample, channel) pairs.  Row statistics are reduced in two
// deterministic steps without atomics: mvn_reduce sums chunks of one row, the glue sums the
// chunks.  Normalize and backward may run in place: each thread reads its element first.
// Formulas as caffeine.layers.mvn: y = (x - mean) / (std + eps), std the biased two-pass
// standard deviation, and the exact derivative of that (the std term carries (std + eps) / std).
#include "common.cuh"

// Thread (r, j) sums columns [j*chunk, (j+1)*chunk) of row r.
// mode 0: sum a; 1: sum (a - center[r])^2; 2: sum a*b.
extern "C" __global__ void mvn_reduce(const int n, const Dtype* a, const Dtype* b, const Dtype* center,
                                      const int mode, const int dim, const int chunk, Dtype* partial) {
  const int chunks = (dim + chunk - 1) / chunk;
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / chunks;
    const int j = index % chunks;
    const int end = kmin((j + 1) * chunk, dim);
    const long long base = (long long)r * dim;
    const Dtype mean = mode == 1 ? center[r] : Dtype(0);
    Dtype acc = 0;
    for (int k = j * chunk; k < end; ++k) {
      if (mode == 0) {
        acc += a[base + k];
      } else if (mode == 1) {
        const Dtype d = a[base + k] - mean;
        acc += d * d;
      } else {
        acc += a[base + k] * b[base + k];
      }
    }
    partial[index] = acc;
  }
}

// Per row: sigma = sqrt(sum of squared deviations / dim), denom = sigma + eps (Caffe adds eps
// to the standard deviation).
extern "C" __global__ void mvn_std(const int n, const Dtype* sqdev, const int dim, const Dtype eps,
                                   Dtype* sigma, Dtype* denom) {
  CUDA_KERNEL_LOOP(r, n) {
    const Dtype s = k_sqrt(sqdev[r] / Dtype(dim));
    sigma[r] = s;
    denom[r] = s + eps;
  }
}

// y = x - mean[r], divided by denom[r] when normalize; denom is not read otherwise.
extern "C" __global__ void mvn_normalize(const int n, const Dtype* x, const Dtype* mean, const Dtype* denom,
                                         const int normalize, const int dim, Dtype* y) {
  CUDA_KERNEL_LOOP(i, n) {
    const int r = i / dim;
    const Dtype d = x[i] - mean[r];
    y[i] = normalize ? d / denom[r] : d;
  }
}

// Per row: coef = mean(dy * y) * (denom / sigma), the ratio 1 where sigma is 0.
extern "C" __global__ void mvn_backward_coef(const int n, const Dtype* dot, const Dtype* sigma,
                                             const Dtype* denom, const int dim, Dtype* coef) {
  CUDA_KERNEL_LOOP(r, n) {
    const Dtype ratio = sigma[r] > 0 ? denom[r] / sigma[r] : Dtype(1);
    coef[r] = dot[r] / Dtype(dim) * ratio;
  }
}

// dx = dy - mean_dy[r]; with normalize, (that - y * coef[r]) / denom[r].
extern "C" __global__ void mvn_backward(const int n, const Dtype* dy, const Dtype* y, const Dtype* mean_dy,
                                        const Dtype* coef, const Dtype* denom, const int normalize,
                                        const int dim, Dtype* dx) {
  CUDA_KERNEL_LOOP(i, n) {
    const int r = i / dim;
    const Dtype d = dy[i] - mean_dy[r];
    dx[i] = normalize ? (d - y[i] * coef[r]) / denom[r] : d;
  }
}
