// Row gathers and deterministic row scatters driven by an index blob, shared by
// Embed (Caffe's embed_layer.cu), BatchReindex (batch_reindex_layer.cu) and Filter
// (filter_layer.cu).  A blob is seen as (rows, inner): "row r" is inner consecutive values.
//
// Caffe's Embed backward adds into the weight diff with atomicAdd; here every output element
// is written by one thread instead: the glue sorts the index rows (key row * count + position,
// unique, so any sort gives the same order), finds each row's segment of the sorted list, and
// segment_sum_rows adds a segment's top rows in their original order (the CPU layer's
// np.add.at order), so the result does not depend on the launch.
#include "common.cuh"

// Index values (stored as Dtype) -> int rows, or -1 where the value is not a valid row:
//   exact = 1 (Embed): the value must be an integer in [0, limit) (Caffe's DCHECKs);
//   exact = 0 (BatchReindex): truncated like static_cast<int>, the result in [0, limit).
// NaN fails every comparison below, so it is invalid too; the range test comes before the
// cast, which is undefined for values outside int.
extern "C" __global__ void index_rows(const int n, const Dtype* values, const int limit,
                                      const int exact, int* rows) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype v = values[i];
    int row = -1;
    if (exact) {
      if (v >= Dtype(0) && v < Dtype(limit) && Dtype((int)v) == v) row = (int)v;
    } else if (v > Dtype(-1) && v < Dtype(limit)) {
      row = (int)v;  // truncation toward zero: (-1, 0) -> 0
    }
    rows[i] = row;
  }
}

// out row r = src row rows[r] (+ bias when has_bias), or zeros where rows[r] < 0:
// Embed forward (with its bias), BatchReindex and Filter forward, and Filter backward with
// rows = each bottom row's position in the top (-1 for a dropped row: zero diff).
extern "C" __global__ void gather_rows(const int n, const Dtype* src, const int* rows,
                                       const int inner, const Dtype* bias, const int has_bias,
                                       Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / inner;
    const int d = index % inner;
    const int row = rows[r];
    Dtype v = row >= 0 ? src[(long long)row * inner + d] : Dtype(0);
    if (has_bias) v += bias[d];
    out[index] = v;
  }
}

// One thread per out element (r, d) of an (out_rows, inner) array:
//   out[r, d] = (accumulate ? out[r, d] : 0) + sum over j in [starts[r], starts[r+1]) of
//               src[order[j], d]
// in j order.  order lists src rows sorted (stably) by their target row; starts has
// out_rows + 1 entries.  Embed's weight diff accumulates (param diffs do), BatchReindex's
// bottom diff is overwritten; an out row no src row maps to keeps its value / becomes 0.
extern "C" __global__ void segment_sum_rows(const int n, const Dtype* src, const int* order,
                                            const int* starts, const int inner,
                                            const int accumulate, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / inner;
    const int d = index % inner;
    Dtype acc = accumulate ? out[index] : Dtype(0);
    for (int j = starts[r]; j < starts[r + 1]; ++j) {
      acc += src[(long long)order[j] * inner + d];
    }
    out[index] = acc;
  }
}

// Thread (c, d) sums column d of an (rows, cols) array over rows [c*chunk, (c+1)*chunk):
// partial is (chunks, cols); the glue sums it over chunks (Embed's bias diff).
extern "C" __global__ void column_sum_partial(const int n, const Dtype* x, const int rows,
                                              const int cols, const int chunk, Dtype* partial) {
  CUDA_KERNEL_LOOP(index, n) {
    const int c = index / cols;
    const int d = index % cols;
    const int end = kmin((c + 1) * chunk, rows);
    Dtype acc = 0;
    for (int r = c * chunk; r < end; ++r) acc += x[(long long)r * cols + d];
    partial[index] = acc;
  }
}
