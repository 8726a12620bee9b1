// Softmax over the channel axis of an (outer, channels, inner) blob, and SoftmaxWithLoss
// (Caffe's softmax_layer.cu / softmax_loss_layer.cu).
#include "labels.cuh"

// One thread per (outer, inner) position: max over the channels subtracted before exp (as
// Caffe's kernel_channel_max/subtract/exp/sum/div, fused), so large inputs do not overflow.
extern "C" __global__ void softmax_forward(
    const int n, const Dtype* in, const int channels, const int inner, Dtype* out) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const long long base = (long long)(index / inner) * channels * inner + s;
    Dtype maxval = -K_FLT_MAX;
    for (int c = 0; c < channels; ++c) maxval = kmax(in[base + (long long)c * inner], maxval);
    Dtype sum = 0;
    for (int c = 0; c < channels; ++c) {
      const Dtype e = k_exp(in[base + (long long)c * inner] - maxval);
      out[base + (long long)c * inner] = e;
      sum += e;
    }
    for (int c = 0; c < channels; ++c) out[base + (long long)c * inner] /= sum;
  }
}

// dx = (dy - sum_c(dy * y)) * y   (Caffe's kernel_channel_dot, then subtract and multiply).
// In place (dx is dy) is fine: each thread reads its whole column before writing it.
extern "C" __global__ void softmax_backward(
    const int n, const Dtype* top, const Dtype* top_diff, const int channels, const int inner,
    Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const long long base = (long long)(index / inner) * channels * inner + s;
    Dtype dot = 0;
    for (int c = 0; c < channels; ++c) {
      dot += top_diff[base + (long long)c * inner] * top[base + (long long)c * inner];
    }
    for (int c = 0; c < channels; ++c) {
      const long long o = base + (long long)c * inner;
      bottom_diff[o] = (top_diff[o] - dot) * top[o];
    }
  }
}

// One thread per (outer, inner) label: loss = -log(max(prob[label], FLT_MIN)), count 1;
// an ignored label gives loss 0, count 0 (Caffe's SoftmaxLossForwardGPU).
extern "C" __global__ void softmax_loss_forward(
    const int n, const Dtype* prob, const Dtype* label, const int channels, const int inner,
    const int has_ignore, const int ignore_label, Dtype* loss, Dtype* counts) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const int o = index / inner;
    int lv;
    const int state = k_label_state(label[index], channels, has_ignore, ignore_label, &lv);
    if (state == 1) {
      const Dtype p = prob[((long long)o * channels + lv) * inner + s];
      loss[index] = -k_log(kmax(p, Dtype(K_FLT_MIN)));
    } else {
      loss[index] = 0;
    }
    counts[index] = Dtype(state);
  }
}

// One thread per element: dx = (prob - [c == label]) * scale[0], 0 where the label is
// ignored; scale[0] = loss_weight / normalizer stays on the device.
extern "C" __global__ void softmax_loss_backward(
    const int n, const Dtype* prob, const Dtype* label, const int channels, const int inner,
    const int has_ignore, const int ignore_label, const Dtype* scale, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const int c = (index / inner) % channels;
    const int o = index / (inner * channels);
    int lv;
    const int state = k_label_state(label[o * inner + s], channels, has_ignore, ignore_label, &lv);
    if (state == 1) {
      bottom_diff[index] = (prob[index] - Dtype(c == lv ? 1 : 0)) * scale[0];
    } else {
      bottom_diff[index] = 0;
    }
  }
}
