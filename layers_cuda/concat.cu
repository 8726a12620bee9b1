// Concat (Caffe's concat_layer.cu): copy one bottom into its slab of the top, or back.
// The blobs are seen as (num_concats, axis, concat_size); this bottom's slab of the top's
// axis starts at offset_concat_axis.
#include "common.cuh"

extern "C" __global__ void concat_copy(
    const int n, const Dtype* in, const int forward, const int concat_size,
    const int top_concat_axis, const int bottom_concat_axis, const int offset_concat_axis,
    Dtype* out) {
  const int total_concat_size = concat_size * bottom_concat_axis;
  CUDA_KERNEL_LOOP(index, n) {
    const int concat_num = index / total_concat_size;
    const int concat_index = index % total_concat_size;
    const long long top_index =
        concat_index + ((long long)concat_num * top_concat_axis + offset_concat_axis) * concat_size;
    if (forward) {
      out[top_index] = in[index];
    } else {
      out[index] = in[top_index];
    }
  }
}
