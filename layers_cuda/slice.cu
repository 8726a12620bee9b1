// Slice (Caffe's slice_layer.cu): copy one slab of the bottom into a top, or back.
// The bottom is seen as (num_slices, axis, slice_size); this top's slab of the bottom's
// axis starts at offset_slice_axis.
#include "common.cuh"

extern "C" __global__ void slice_copy(
    const int n, const Dtype* in, const int forward, const int slice_size,
    const int bottom_slice_axis, const int top_slice_axis, const int offset_slice_axis,
    Dtype* out) {
  const int total_slice_size = slice_size * top_slice_axis;
  CUDA_KERNEL_LOOP(index, n) {
    const int slice_num = index / total_slice_size;
    const int slice_index = index % total_slice_size;
    const long long bottom_index =
        slice_index + ((long long)slice_num * bottom_slice_axis + offset_slice_axis) * slice_size;
    if (forward) {
      out[index] = in[bottom_index];
    } else {
      out[bottom_index] = in[index];
    }
  }
}
