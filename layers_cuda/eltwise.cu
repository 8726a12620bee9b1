// Eltwise (Caffe's eltwise_layer.cu): PROD, SUM with coefficients, MAX with an argmax mask.
#include "common.cuh"

// MAX over the first two bottoms (blob_idx 0: a = bottom[0], b = bottom[1]; the tie goes to
// bottom[1]) or folding in bottom[blob_idx] (a = top so far): a later bottom must be strictly
// larger to take over.  That is Caffe's CPU rule (its GPU kernel lets ties go to the later
// bottom); caffeine's CPU layer follows it, and so does this.
extern "C" __global__ void eltwise_max_forward(const int n, const Dtype* a, const Dtype* b,
                                               const int blob_idx, Dtype* top, int* mask) {
  CUDA_KERNEL_LOOP(i, n) {
    if (blob_idx == 0) {
      const bool first = a[i] > b[i];
      top[i] = first ? a[i] : b[i];
      mask[i] = first ? 0 : 1;
    } else if (b[i] > a[i]) {
      top[i] = b[i];
      mask[i] = blob_idx;
    }
  }
}

extern "C" __global__ void eltwise_max_backward(const int n, const Dtype* top_diff,
                                                const int* mask, const int blob_idx,
                                                Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) { bottom_diff[i] = mask[i] == blob_idx ? top_diff[i] : Dtype(0); }
}

// out = coeff * in (first == 1) or out += coeff * in: SUM forward, and its backward.
extern "C" __global__ void eltwise_axpy(const int n, const Dtype coeff, const Dtype* in,
                                        const int first, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype v = coeff == Dtype(1) ? in[i] : coeff * in[i];
    out[i] = first ? v : out[i] + v;
  }
}

// out = a * b
extern "C" __global__ void eltwise_mul(const int n, const Dtype* a, const Dtype* b, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = a[i] * b[i]; }
}

// PROD backward, Caffe's fast form: dx = top / bottom * dy (inf/NaN where bottom is 0).
extern "C" __global__ void eltwise_prod_backward(const int n, const Dtype* top,
                                                 const Dtype* bottom, const Dtype* top_diff,
                                                 Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) { bottom_diff[i] = top[i] / bottom[i] * top_diff[i]; }
}
