// Crop (Caffe's crop_layer.cu), N-D: one thread per top element, which reads (forward) or
// writes (backward) the bottom element at the same coordinates plus the offsets.
// geom holds 3 * num_axes ints: the top shape, the bottom strides, the offsets.
#include "common.cuh"

__device__ __forceinline__ long long crop_bottom_index(int index, const int num_axes,
                                                       const int* geom) {
  const int* top_shape = geom;
  const int* bottom_strides = geom + num_axes;
  const int* offsets = geom + 2 * num_axes;
  long long b = 0;
  int rem = index;
  for (int a = num_axes - 1; a >= 0; --a) {
    const int coord = rem % top_shape[a];
    rem /= top_shape[a];
    b += (long long)(coord + offsets[a]) * bottom_strides[a];
  }
  return b;
}

extern "C" __global__ void crop_forward(const int n, const Dtype* bottom, const int num_axes,
                                        const int* geom, Dtype* top) {
  CUDA_KERNEL_LOOP(index, n) { top[index] = bottom[crop_bottom_index(index, num_axes, geom)]; }
}

// bottom_diff must be zeroed first: only the cropped region receives a gradient.
extern "C" __global__ void crop_backward(const int n, const Dtype* top_diff, const int num_axes,
                                         const int* geom, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    bottom_diff[crop_bottom_index(index, num_axes, geom)] = top_diff[index];
  }
}
