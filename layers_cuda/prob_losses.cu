// Losses on class probabilities (Caffe's infogain_loss_layer and
// multinomial_logistic_loss_layer, with caffeine's CPU layers as the reference):
//
//   InfogainLoss: prob = softmax(scores) over the class axis (the glue runs softmax.cu's
//     softmax_forward), the blob seen as (outer, channels, inner); per counted position
//       loss = -sum_c H[label, c] * log(max(prob[c], kLOG_THRESHOLD))
//       dx_c = (prob[c] * sum_m H[label, m] - H[label, c]) * scale[0]
//   MultinomialLogisticLoss: prob given as (num, dim); per sample
//       loss = -log(max(prob[label], kLOG_THRESHOLD))
//       dx_c = [c == label] * -(top_diff[0] / num) / max(prob[label], kLOG_THRESHOLD)
//
// The per-position losses are summed on the device by the glue; the backward scale comes
// from the top diff (the loss weight) on the device, so nothing is read back.  A label that
// is out of range (and not ignore_label) cannot raise the CPU layer's DataError without a
// readback: its loss and its gradient row are NaN instead (Caffe would read out of bounds).
#include "labels.cuh"

#define K_LOG_THRESHOLD 1e-20

// std::max(p, kLOG_THRESHOLD) as Caffe writes it, (p < t) ? t : p, so a NaN p stays NaN.
__device__ __forceinline__ Dtype k_floor_prob(const Dtype p) {
  return p < Dtype(K_LOG_THRESHOLD) ? Dtype(K_LOG_THRESHOLD) : p;
}

__device__ __forceinline__ Dtype k_log_clamped(const Dtype p) { return k_log(k_floor_prob(p)); }

// NaN, the value a position with a bad label gets.
__device__ __forceinline__ Dtype k_nan() { return k_sqrt(Dtype(-1)); }

// One thread per (outer, inner) position: loss[index] as above (0 when ignored, NaN for a
// bad label) and valid[index] = 1 when the label counts, else 0 (VALID's normalizer).
extern "C" __global__ void infogain_loss_forward(
    const int n, const Dtype* prob, const Dtype* label, const Dtype* infogain, const int channels,
    const int inner, const int has_ignore, const int ignore_label, Dtype* loss, Dtype* valid) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const long long base = (long long)(index / inner) * channels * inner + s;
    int lv;
    const int state = k_label_state(label[index], channels, has_ignore, ignore_label, &lv);
    if (state == 1) {
      const Dtype* h_row = infogain + (long long)lv * channels;
      Dtype acc = 0;
      for (int c = 0; c < channels; ++c) {
        acc += h_row[c] * k_log_clamped(prob[base + (long long)c * inner]);
      }
      loss[index] = -acc;
    } else {
      loss[index] = state == 0 ? Dtype(0) : k_nan();
    }
    valid[index] = state == 1 ? Dtype(1) : Dtype(0);
  }
}

// One thread per class r: row_sums[r] = sum_m H[r, m] (the backward's prob coefficient).
extern "C" __global__ void infogain_row_sums(const int n, const Dtype* infogain, Dtype* row_sums) {
  CUDA_KERNEL_LOOP(r, n) {
    const Dtype* h_row = infogain + (long long)r * n;
    Dtype acc = 0;
    for (int m = 0; m < n; ++m) acc += h_row[m];
    row_sums[r] = acc;
  }
}

// One thread per element of the (outer, channels, inner) scores; scale[0] = loss_weight /
// normalizer, on the device.  Ignored positions get 0.
extern "C" __global__ void infogain_loss_backward(
    const int n, const Dtype* prob, const Dtype* label, const Dtype* infogain,
    const Dtype* row_sums, const int channels, const int inner, const int has_ignore,
    const int ignore_label, const Dtype* scale, Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    const int s = index % inner;
    const int c = (index / inner) % channels;
    const int o = index / (inner * channels);
    int lv;
    const int state = k_label_state(label[o * inner + s], channels, has_ignore, ignore_label, &lv);
    if (state == 1) {
      const Dtype h = infogain[(long long)lv * channels + c];
      bottom_diff[index] = (prob[index] * row_sums[lv] - h) * scale[0];
    } else {
      bottom_diff[index] = state == 0 ? Dtype(0) : k_nan();
    }
  }
}

// One thread per sample: loss[i] = -log(max(prob[i, label_i], kLOG_THRESHOLD)).
extern "C" __global__ void mll_forward(const int n, const Dtype* prob, const Dtype* label,
                                       const int dim, Dtype* loss) {
  CUDA_KERNEL_LOOP(i, n) {
    int lv;
    const int state = k_label_state(label[i], dim, 0, 0, &lv);
    loss[i] = state == 1 ? -k_log_clamped(prob[(long long)i * dim + lv]) : k_nan();
  }
}

// One thread per element of the (num, dim) probabilities: only the label's entry of a row
// gets a gradient, -(top_diff[0] / num) / max(p, kLOG_THRESHOLD) (the CPU layer's order).
extern "C" __global__ void mll_backward(const int n, const Dtype* prob, const Dtype* label,
                                        const int dim, const int num, const Dtype* top_diff,
                                        Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / dim;
    const int c = index % dim;
    int lv;
    const int state = k_label_state(label[r], dim, 0, 0, &lv);
    if (state != 1) {
      bottom_diff[index] = k_nan();
    } else if (c == lv) {
      const Dtype scale = -(top_diff[0] / Dtype(num));
      bottom_diff[index] = scale / k_floor_prob(prob[index]);
    } else {
      bottom_diff[index] = 0;
    }
  }
}
