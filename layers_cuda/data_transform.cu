// Caffe's DataTransformer on the device: after one host->device copy of a uint8 batch
// (num, channels, height, width), every output element (b, c, h, w) of the
// (num, channels, crop_h, crop_w) float batch is
//   src = in[b, c, h_off[b] + h, w_off[b] + (mirror[b] ? crop_w - 1 - w : w)]
//   out = (src - mean) * scale
// with mean = mean_file[c, same h, same w] (mean_mode 1), mean_values[c or 0] (mode 2) or 0.
#include "common.cuh"

extern "C" __global__ void transform_uint8(
    const int n, const unsigned char* in, const int channels, const int height, const int width,
    const int crop_h, const int crop_w, const int* h_off, const int* w_off, const int* mirror,
    const int mean_mode, const float* mean, const int mean_count, const float scale, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    const int w = index % crop_w;
    const int h = (index / crop_w) % crop_h;
    const int c = (index / (crop_w * crop_h)) % channels;
    const int b = index / (crop_w * crop_h * channels);
    const int src_h = h_off[b] + h;
    const int src_w = w_off[b] + (mirror[b] ? crop_w - 1 - w : w);
    const long long src = (((long long)b * channels + c) * height + src_h) * width + src_w;
    float value = (float)in[src];
    if (mean_mode == 1) {
      value -= mean[((long long)c * height + src_h) * width + src_w];
    } else if (mean_mode == 2) {
      value -= mean[mean_count == channels ? c : 0];
    }
    if (scale != 1.0f) value *= scale;
    out[index] = (Dtype)value;
  }
}

// WindowData's batch on the device: the host warps each window into a zeroed uint8 canvas
// (num, channels, size, size) — mirror included, as it moves the padding — and sends
// per item the rectangle the warped patch covers (rect = [top; left; height; width], num
// each).  Caffe's InternalThreadEntry writes (pixel - mean) * scale inside that rectangle
// and leaves 0 outside it:
//   out[b, c, h, w] = inside ? (in[b, c, h, w] - mean) * scale : 0
// with mean = the mean file's centre crop [c, h, w] (mean_mode 1), mean_values[c or 0]
// (mode 2) or 0.
extern "C" __global__ void window_uint8(
    const int n, const unsigned char* in, const int channels, const int size, const int* rect,
    const int mean_mode, const float* mean, const int mean_count, const float scale, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    const int w = index % size;
    const int h = (index / size) % size;
    const int c = (index / (size * size)) % channels;
    const int b = index / (size * size * channels);
    const int num = n / (channels * size * size);
    const int top = rect[b], left = rect[num + b];
    const bool inside = h >= top && h < top + rect[2 * num + b] &&
                        w >= left && w < left + rect[3 * num + b];
    float value = 0.0f;
    if (inside) {
      value = (float)in[index];
      if (mean_mode == 1) {
        value -= mean[((long long)c * size + h) * size + w];
      } else if (mean_mode == 2) {
        value -= mean[mean_count == channels ? c : 0];
      }
      if (scale != 1.0f) value *= scale;
    }
    out[index] = (Dtype)value;
  }
}
