// Reduction (Caffe's reduction_layer.cu) over a blob seen as (num, dim): each row is reduced
// to one value with SUM / ASUM / SUMSQ / MEAN (op values as ReductionParameter's enum).
// Forward sums rows in two deterministic steps without atomics: reduction_partial sums chunks
// of one row, the glue sums the chunks and applies coeff.
#include "common.cuh"

#define K_SUM 1
#define K_ASUM 2
#define K_SUMSQ 3
#define K_MEAN 4

// Thread (r, j) sums the op's terms of x over columns [j*chunk, (j+1)*chunk) of row r.
extern "C" __global__ void reduction_partial(const int n, const Dtype* x, const int op, const int dim,
                                             const int chunk, Dtype* partial) {
  const int chunks = (dim + chunk - 1) / chunk;
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / chunks;
    const int j = index % chunks;
    const int end = kmin((j + 1) * chunk, dim);
    const Dtype* row = x + (long long)r * dim;
    Dtype acc = 0;
    for (int k = j * chunk; k < end; ++k) {
      const Dtype v = row[k];
      acc += op == K_ASUM ? k_abs(v) : (op == K_SUMSQ ? v * v : v);
    }
    partial[index] = acc;
  }
}

// bottom_diff[r, k] = g * d(term)/dx with g = top_diff[r] * coeff (coeff already holds MEAN's 1/dim).
extern "C" __global__ void reduction_backward(const int n, const Dtype* x, const Dtype* top_diff,
                                              const int op, const int dim, const Dtype coeff,
                                              Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype g = top_diff[i / dim] * coeff;
    const Dtype v = x[i];
    if (op == K_ASUM) {
      bottom_diff[i] = (v > 0 ? Dtype(1) : (v < 0 ? Dtype(-1) : Dtype(0))) * g;
    } else if (op == K_SUMSQ) {
      bottom_diff[i] = Dtype(2) * v * g;
    } else {
      bottom_diff[i] = g;
    }
  }
}
