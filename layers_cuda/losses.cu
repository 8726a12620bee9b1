// Loss layers (Caffe's euclidean/sigmoid_cross_entropy/contrastive/hinge loss layers).
// The forward kernels write per-element (or per-pair) losses that the host sums on the
// device; the loss weight / normalizer reaches the backward kernels as a device pointer
// (scale[0]), so nothing is read back to the host.
#include "labels.cuh"

// out = in * scale[0] * factor   (Euclidean backward: factor = +-1/num)
extern "C" __global__ void scale_by_device_scalar(const int n, const Dtype* in, const Dtype* scale,
                                                  const Dtype factor, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = in[i] * (scale[0] * factor); }
}

// out = a - b
extern "C" __global__ void euclidean_diff(const int n, const Dtype* a, const Dtype* b, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = a[i] - b[i]; }
}

// loss_i = max(x, 0) - x t + log(1 + exp(-|x|)); valid_i = 0 where int(t) == ignore_label.
extern "C" __global__ void sigmoid_ce_forward(const int n, const Dtype* x, const Dtype* target,
                                              const int has_ignore, const int ignore_label,
                                              Dtype* loss, Dtype* valid) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype t = target[i];
    if (has_ignore && k_fits_int(t) && (int)t == ignore_label) {
      loss[i] = 0;
      valid[i] = 0;
    } else {
      const Dtype v = x[i];
      loss[i] = kmax(v, Dtype(0)) - v * t + k_log1p(k_exp(-k_abs(v)));
      valid[i] = 1;
    }
  }
}

// dx = (sigmoid(x) - t) * valid * scale[0]
extern "C" __global__ void sigmoid_ce_backward(const int n, const Dtype* x, const Dtype* target,
                                               const Dtype* valid, const Dtype* scale,
                                               Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    bottom_diff[i] = (k_sigmoid(x[i]) - target[i]) * valid[i] * scale[0];
  }
}

// One thread per pair: diff = a - b, dist_sq = |diff|^2, and the pair's loss term:
// similar (int(y) != 0): d^2; dissimilar: max(margin - d, 0)^2 (legacy: max(margin - d^2, 0)).
extern "C" __global__ void contrastive_forward(const int n, const Dtype* a, const Dtype* b,
                                               const Dtype* y, const int channels,
                                               const Dtype margin, const int legacy, Dtype* diff,
                                               Dtype* dist_sq, Dtype* loss) {
  CUDA_KERNEL_LOOP(p, n) {
    Dtype d2 = 0;
    for (int c = 0; c < channels; ++c) {
      const long long e = (long long)p * channels + c;
      const Dtype d = a[e] - b[e];
      diff[e] = d;
      d2 += d * d;
    }
    dist_sq[p] = d2;
    if ((int)y[p] != 0) {
      loss[p] = d2;
    } else if (legacy) {
      loss[p] = kmax(margin - d2, Dtype(0));
    } else {
      const Dtype m = kmax(margin - k_sqrt(d2), Dtype(0));
      loss[p] = m * m;
    }
  }
}

// One thread per element: dx = scale[0] * factor * coeff(pair) * diff, with coeff 1 for a
// similar pair and, for a dissimilar one with positive margin term, -1 (legacy) or
// -(margin - d) / (d + 1e-4) (Caffe adds 1e-4 to d).
extern "C" __global__ void contrastive_backward(const int n, const Dtype* diff, const Dtype* dist_sq,
                                                const Dtype* y, const int channels,
                                                const Dtype margin, const int legacy,
                                                const Dtype* scale, const Dtype factor,
                                                Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    const int p = i / channels;
    Dtype coeff;
    if ((int)y[p] != 0) {
      coeff = 1;
    } else if (legacy) {
      coeff = (margin - dist_sq[p]) > 0 ? Dtype(-1) : Dtype(0);
    } else {
      const Dtype dist = k_sqrt(dist_sq[p]);
      const Dtype mdist = margin - dist;
      coeff = mdist > 0 ? -mdist / (dist + Dtype(1e-4)) : Dtype(0);
    }
    bottom_diff[i] = (scale[0] * factor) * (coeff * diff[i]);
  }
}

// One-vs-all hinge: margin = max(0, 1 + t x) with t = -1 at the label, +1 elsewhere.
// state[row] = 0 for a label outside [0, dim) (the layer raises a DataError), else 1.
extern "C" __global__ void hinge_forward(const int n, const Dtype* x, const Dtype* label,
                                         const int dim, Dtype* margin, Dtype* state) {
  CUDA_KERNEL_LOOP(i, n) {
    const int row = i / dim;
    const int k = i % dim;
    const Dtype raw = label[row];
    const bool ok = raw > Dtype(-1) && raw < Dtype(dim);
    const int lv = ok ? (int)raw : -1;
    const Dtype signed_x = k == lv ? -x[i] : x[i];
    margin[i] = kmax(Dtype(0), Dtype(1) + signed_x);
    if (k == 0) state[row] = ok ? Dtype(1) : Dtype(0);
  }
}

// L1: dx = sign(t margin) * scale[0]; L2: dx = 2 t margin * scale[0]  (scale = w / num).
extern "C" __global__ void hinge_backward(const int n, const Dtype* margin, const Dtype* label,
                                          const int dim, const int l2, const Dtype* scale,
                                          Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    const int k = i % dim;
    const Dtype raw = label[i / dim];
    const int lv = (raw > Dtype(-1) && raw < Dtype(dim)) ? (int)raw : -1;
    const Dtype d = k == lv ? -margin[i] : margin[i];
    if (l2) {
      bottom_diff[i] = d * (Dtype(2) * scale[0]);
    } else {
      const Dtype sign = d > 0 ? Dtype(1) : (d < 0 ? Dtype(-1) : Dtype(0));
      bottom_diff[i] = sign * scale[0];
    }
  }
}
