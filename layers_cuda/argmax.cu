// ArgMax (Caffe's ArgMaxLayer; Caffe 1.0 itself runs it on the host) over a blob seen as
// (outer, dim, inner): the top_k largest of the dim values of every (outer, inner) position,
// their indices and/or values.  One thread per position selects the k entries one rank at a
// time (O(k * dim), k is small), so no per-thread array is needed.
#include "common.cuh"

// The CPU layer's order, that of Caffe's std::partial_sort with std::greater on (value, index)
// pairs: larger value first and, among equal values, the larger index first.  NaN ranks after
// every number (numpy's sort, which the CPU layer uses, puts NaN last), larger index first.
// This is a strict total order on (value, index), so "the best entry ranked after the previous
// pick" is always well defined.
__device__ __forceinline__ bool argmax_before(const Dtype va, const int ia, const Dtype vb,
                                              const int ib) {
  const bool nan_a = va != va;
  const bool nan_b = vb != vb;
  if (nan_a != nan_b) return nan_b;  // the number ranks before the NaN
  if (nan_a) return ia > ib;         // both NaN
  return va > vb || (va == vb && ia > ib);
}

// Thread (o, s) ranks x[o, :, s].  The output of sample o is `slots` planes of (top_k, inner):
// rank r goes to out[((o * slots + slot) * top_k + r) * inner + s], the index (as a Dtype, as
// Caffe writes it) in plane index_slot and the value in plane value_slot (-1: not written).
//   with argmax_param.axis: slots 1, inner = the axes after it, index or value;
//   without: inner 1, dim = everything after axis 0, plane 0 indices, plane 1 values if asked.
extern "C" __global__ void argmax_topk(const int n, const Dtype* x, const int dim, const int inner,
                                       const int top_k, const int index_slot, const int value_slot,
                                       const int slots, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const int o = index / inner;
    const Dtype* col = x + (long long)o * dim * inner + s;
    Dtype prev_v = 0;
    int prev_i = -1;  // -1: no pick yet
    for (int r = 0; r < top_k; ++r) {
      Dtype best_v = 0;
      int best_i = -1;
      for (int c = 0; c < dim; ++c) {
        const Dtype v = col[(long long)c * inner];
        if (prev_i >= 0 && !argmax_before(prev_v, prev_i, v, c)) continue;  // already picked
        if (best_i < 0 || argmax_before(v, c, best_v, best_i)) {
          best_v = v;
          best_i = c;
        }
      }
      const long long base = (long long)o * slots * top_k;
      if (index_slot >= 0) out[((base + (long long)index_slot * top_k) + r) * inner + s] = Dtype(best_i);
      if (value_slot >= 0) out[((base + (long long)value_slot * top_k) + r) * inner + s] = best_v;
      prev_v = best_v;
      prev_i = best_i;
    }
  }
}
