// Pooling (Caffe's pooling_layer.cu): MAX, AVE and STOCHASTIC, forward and backward, over
// (num, channels, height, width) blobs.  The output size (Caffe's ceil rounding, or floor,
// and the rule that drops a last window starting in the padding) is computed by the layer
// and passed in as pooled_height/pooled_width.
#include "common.cuh"

// MAX: windows clipped to the image; the first strictly larger value wins (Caffe's `>`
// from -FLT_MAX, so NaN is skipped and an all -inf window gives -FLT_MAX with mask -1).
// mask = h * width + w of the maximum in its plane.
extern "C" __global__ void max_pool_forward(
    const int n, const Dtype* bottom, const int channels, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w, const int pad_h, const int pad_w, Dtype* top,
    int* mask) {
  CUDA_KERNEL_LOOP(index, n) {
    const int pw = index % pooled_width;
    const int ph = (index / pooled_width) % pooled_height;
    const int plane = index / (pooled_width * pooled_height);  // n * channels + c
    int hstart = ph * stride_h - pad_h;
    int wstart = pw * stride_w - pad_w;
    const int hend = kmin(hstart + kernel_h, height);
    const int wend = kmin(wstart + kernel_w, width);
    hstart = kmax(hstart, 0);
    wstart = kmax(wstart, 0);
    Dtype maxval = -K_FLT_MAX;
    int maxidx = -1;
    const Dtype* slice = bottom + (long long)plane * height * width;
    for (int h = hstart; h < hend; ++h) {
      for (int w = wstart; w < wend; ++w) {
        if (slice[h * width + w] > maxval) {
          maxidx = h * width + w;
          maxval = slice[maxidx];
        }
      }
    }
    top[index] = maxval;
    mask[index] = maxidx;
  }
}

// The gradient of bottom element `index`: the sum of the top diffs of the windows whose
// mask (an index into the H x W plane) names it.  Shared by MAX and STOCHASTIC-train backward.
__device__ __forceinline__ Dtype mask_routed_gradient(
    const int index, const Dtype* top_diff, const int* mask, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w, const int pad_h, const int pad_w) {
  const int w = index % width;
  const int h = (index / width) % height;
  const int plane = index / (width * height);
  const int phstart = (h + pad_h < kernel_h) ? 0 : (h + pad_h - kernel_h) / stride_h + 1;
  const int phend = kmin((h + pad_h) / stride_h + 1, pooled_height);
  const int pwstart = (w + pad_w < kernel_w) ? 0 : (w + pad_w - kernel_w) / stride_w + 1;
  const int pwend = kmin((w + pad_w) / stride_w + 1, pooled_width);
  const long long offset = (long long)plane * pooled_height * pooled_width;
  const int me = h * width + w;
  Dtype gradient = 0;
  for (int ph = phstart; ph < phend; ++ph) {
    for (int pw = pwstart; pw < pwend; ++pw) {
      if (mask[offset + ph * pooled_width + pw] == me) {
        gradient += top_diff[offset + ph * pooled_width + pw];
      }
    }
  }
  return gradient;
}

// One thread per bottom element: sums the top diffs of the windows whose mask is it.
extern "C" __global__ void max_pool_backward(
    const int n, const Dtype* top_diff, const int* mask, const int channels, const int height,
    const int width, const int pooled_height, const int pooled_width, const int kernel_h,
    const int kernel_w, const int stride_h, const int stride_w, const int pad_h, const int pad_w,
    Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    bottom_diff[index] = mask_routed_gradient(index, top_diff, mask, height, width, pooled_height,
                                              pooled_width, kernel_h, kernel_w, stride_h, stride_w,
                                              pad_h, pad_w);
  }
}

// Caffe's AVE divisor: the window clipped to image + pad (not to the image).  A window
// wholly past the image has size 0 in Caffe (0/0 = NaN); caffeine's CPU layer gives 0 there,
// and so does this.
__device__ __forceinline__ int ave_pool_size(int hstart, int wstart, int kernel_h, int kernel_w,
                                             int height, int width, int pad_h, int pad_w) {
  const int hend = kmin(hstart + kernel_h, height + pad_h);
  const int wend = kmin(wstart + kernel_w, width + pad_w);
  const int size = (hend - hstart) * (wend - wstart);
  return size == 0 ? 1 : size;
}

extern "C" __global__ void ave_pool_forward(
    const int n, const Dtype* bottom, const int channels, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w, const int pad_h, const int pad_w, Dtype* top) {
  CUDA_KERNEL_LOOP(index, n) {
    const int pw = index % pooled_width;
    const int ph = (index / pooled_width) % pooled_height;
    const int plane = index / (pooled_width * pooled_height);
    int hstart = ph * stride_h - pad_h;
    int wstart = pw * stride_w - pad_w;
    const int pool_size = ave_pool_size(hstart, wstart, kernel_h, kernel_w, height, width,
                                        pad_h, pad_w);
    const int hend = kmin(hstart + kernel_h, height);
    const int wend = kmin(wstart + kernel_w, width);
    hstart = kmax(hstart, 0);
    wstart = kmax(wstart, 0);
    Dtype aveval = 0;
    const Dtype* slice = bottom + (long long)plane * height * width;
    for (int h = hstart; h < hend; ++h) {
      for (int w = wstart; w < wend; ++w) {
        aveval += slice[h * width + w];
      }
    }
    top[index] = aveval / Dtype(pool_size);
  }
}

extern "C" __global__ void ave_pool_backward(
    const int n, const Dtype* top_diff, const int channels, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w, const int pad_h, const int pad_w, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    // position in the padded image
    const int w = index % width + pad_w;
    const int h = (index / width) % height + pad_h;
    const int plane = index / (width * height);
    const int phstart = (h < kernel_h) ? 0 : (h - kernel_h) / stride_h + 1;
    const int phend = kmin(h / stride_h + 1, pooled_height);
    const int pwstart = (w < kernel_w) ? 0 : (w - kernel_w) / stride_w + 1;
    const int pwend = kmin(w / stride_w + 1, pooled_width);
    const Dtype* slice = top_diff + (long long)plane * pooled_height * pooled_width;
    Dtype gradient = 0;
    for (int ph = phstart; ph < phend; ++ph) {
      for (int pw = pwstart; pw < pwend; ++pw) {
        const int pool_size = ave_pool_size(ph * stride_h - pad_h, pw * stride_w - pad_w,
                                            kernel_h, kernel_w, height, width, pad_h, pad_w);
        gradient += slice[ph * pooled_width + pw] / Dtype(pool_size);
      }
    }
    bottom_diff[index] = gradient;
  }
}

// Uniform [0, 1) numbers for STOCHASTIC pooling from the counter-based generator.
extern "C" __global__ void pool_uniform(const int n, const unsigned long long seed, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    out[index] = Dtype(k_uniform(seed, (unsigned long long)index));
  }
}

// The STOCHASTIC window of top element `index`: its plane of the bottom and its rows and
// columns, clipped to the image (no padding: the layer refuses it).  Shared by both forwards.
struct StoWindow {
  const Dtype* slice;
  int hstart, hend, wstart, wend;
};

__device__ __forceinline__ StoWindow sto_window(
    const int index, const Dtype* bottom, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w) {
  const int pw = index % pooled_width;
  const int ph = (index / pooled_width) % pooled_height;
  const int plane = index / (pooled_width * pooled_height);
  StoWindow win;
  win.hstart = ph * stride_h;
  win.hend = kmin(win.hstart + kernel_h, height);
  win.wstart = pw * stride_w;
  win.wend = kmin(win.wstart + kernel_w, width);
  win.slice = bottom + (long long)plane * height * width;
  return win;
}

// The window's sum and sum of squares, added in Caffe's row-major order (TRAIN uses the sum).
__device__ __forceinline__ void sto_window_sums(const StoWindow& win, const int width, Dtype& sum,
                                                Dtype& sumsq) {
  sum = 0;
  sumsq = 0;
  for (int h = win.hstart; h < win.hend; ++h) {
    for (int w = win.wstart; w < win.wend; ++w) {
      const Dtype v = win.slice[h * width + w];
      sum += v;
      sumsq += v * v;
    }
  }
}

// STOCHASTIC, TRAIN (Caffe's StoPoolForwardTrain): the first position whose running sum
// reaches u * (window sum) is sampled; mask = h * width + w of it, -1 (and top 0) if none.
// No padding (the layer refuses it).
extern "C" __global__ void sto_pool_forward_train(
    const int n, const Dtype* bottom, const Dtype* rand, const int channels, const int height,
    const int width, const int pooled_height, const int pooled_width, const int kernel_h,
    const int kernel_w, const int stride_h, const int stride_w, Dtype* top, int* mask) {
  CUDA_KERNEL_LOOP(index, n) {
    const StoWindow win = sto_window(index, bottom, height, width, pooled_height, pooled_width,
                                     kernel_h, kernel_w, stride_h, stride_w);
    Dtype cumsum, sumsq;
    sto_window_sums(win, width, cumsum, sumsq);
    const Dtype thres = rand[index] * cumsum;
    Dtype value = 0;
    int chosen = -1;
    cumsum = 0;
    for (int h = win.hstart; h < win.hend && chosen < 0; ++h) {
      for (int w = win.wstart; w < win.wend; ++w) {
        cumsum += win.slice[h * width + w];
        if (cumsum >= thres) {
          chosen = h * width + w;
          value = win.slice[chosen];
          break;
        }
      }
    }
    top[index] = value;
    mask[index] = chosen;
  }
}

// STOCHASTIC, TEST (Caffe's StoPoolForwardTest): sum(x^2) / (sum(x) + FLT_MIN); the two sums
// are kept for the backward pass.
extern "C" __global__ void sto_pool_forward_test(
    const int n, const Dtype* bottom, const int channels, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w, Dtype* top, Dtype* sums, Dtype* sumsqs) {
  CUDA_KERNEL_LOOP(index, n) {
    const StoWindow win = sto_window(index, bottom, height, width, pooled_height, pooled_width,
                                     kernel_h, kernel_w, stride_h, stride_w);
    Dtype cumsum, cumvalues;
    sto_window_sums(win, width, cumsum, cumvalues);
    cumsum += Dtype(K_FLT_MIN);
    top[index] = cumvalues / cumsum;
    sums[index] = cumsum;
    sumsqs[index] = cumvalues;
  }
}

// STOCHASTIC backward, TRAIN: the diff goes to the sampled position (Caffe's StoPoolBackward).
extern "C" __global__ void sto_pool_backward_train(
    const int n, const Dtype* top_diff, const int* mask, const int channels, const int height,
    const int width, const int pooled_height, const int pooled_width, const int kernel_h,
    const int kernel_w, const int stride_h, const int stride_w, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    bottom_diff[index] = mask_routed_gradient(index, top_diff, mask, height, width, pooled_height,
                                              pooled_width, kernel_h, kernel_w, stride_h, stride_w,
                                              0, 0);
  }
}

// STOCHASTIC backward, TEST: Caffe has none; caffeine's CPU layer uses the exact derivative
// of q / s:  d/dx_i = (2 x_i s - q) / s^2, summed over the windows holding x_i.
extern "C" __global__ void sto_pool_backward_test(
    const int n, const Dtype* bottom, const Dtype* top_diff, const Dtype* sums,
    const Dtype* sumsqs, const int channels, const int height, const int width,
    const int pooled_height, const int pooled_width, const int kernel_h, const int kernel_w,
    const int stride_h, const int stride_w, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    const int w = index % width;
    const int h = (index / width) % height;
    const int plane = index / (width * height);
    const int phstart = (h < kernel_h) ? 0 : (h - kernel_h) / stride_h + 1;
    const int phend = kmin(h / stride_h + 1, pooled_height);
    const int pwstart = (w < kernel_w) ? 0 : (w - kernel_w) / stride_w + 1;
    const int pwend = kmin(w / stride_w + 1, pooled_width);
    const long long offset = (long long)plane * pooled_height * pooled_width;
    const Dtype x = bottom[index];
    Dtype gradient = 0;
    for (int ph = phstart; ph < phend; ++ph) {
      for (int pw = pwstart; pw < pwend; ++pw) {
        const long long o = offset + ph * pooled_width + pw;
        const Dtype s = sums[o];
        const Dtype dy = top_diff[o];
        gradient += x * (Dtype(2) * dy / s) - dy * sumsqs[o] / (s * s);
      }
    }
    bottom_diff[index] = gradient;
  }
}
