// Scale and Bias (Caffe's scale_layer.cu / bias_layer.cu) over a blob seen as
// (outer, dim, inner): the scale / bias has dim entries, element i uses entry (i / inner) % dim.
// Forward may run in place (out == in): each thread reads its element before writing it.
// The per-channel parameter gradients are reduced in two deterministic steps without
// atomics, as in batch_norm.cu: sb_reduce sums chunks of one channel, the glue sums the chunks.
#include "common.cuh"

// out = in * scale[c] (+ bias[c] when has_bias); with has_bias 0 bias is not read.
// Also the bottom gradient of Scale: bottom_diff = top_diff * scale[c].
extern "C" __global__ void scale_forward(const int n, const Dtype* in, const Dtype* scale,
                                         const Dtype* bias, const int has_bias, const int dim,
                                         const int inner, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) {
    const int c = (i / inner) % dim;
    const Dtype v = in[i] * scale[c];
    out[i] = has_bias ? v + bias[c] : v;
  }
}

// out = in + bias[c]
extern "C" __global__ void bias_forward(const int n, const Dtype* in, const Dtype* bias,
                                        const int dim, const int inner, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = in[i] + bias[(i / inner) % dim]; }
}

// Thread (c, j) sums positions p in [j*chunk, (j+1)*chunk) of channel c, position p being
// (o, k) = (p / inner, p % inner).  mode 0: sum a (bias gradient); 1: sum a*b (scale gradient).
extern "C" __global__ void sb_reduce(const int n, const Dtype* a, const Dtype* b, const int mode,
                                     const int outer, const int dim, const int inner,
                                     const int chunk, Dtype* partial) {
  const int positions = outer * inner;
  const int chunks = (positions + chunk - 1) / chunk;
  CUDA_KERNEL_LOOP(index, n) {
    const int c = index / chunks;
    const int j = index % chunks;
    const int end = kmin((j + 1) * chunk, positions);
    Dtype acc = 0;
    for (int p = j * chunk; p < end; ++p) {
      const long long e = ((long long)(p / inner) * dim + c) * inner + p % inner;
      acc += mode == 0 ? a[e] : a[e] * b[e];
    }
    partial[index] = acc;
  }
}
