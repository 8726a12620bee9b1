// Elementwise neuron layers (Caffe's relu/sigmoid/tanh/elu/bnll/absval/clip/swish/threshold/
// power/exp/log/prelu/dropout _layer.cu), forward and backward, one thread per element.
// Every kernel may run in place (out == in, bottom_diff == top_diff): each thread reads its
// element before writing it.  The formulas follow caffeine's CPU layers term for term.
#include "common.cuh"

extern "C" __global__ void relu_forward(const int n, const Dtype* in, Dtype* out,
                                        const Dtype negative_slope) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = in[i] > 0 ? in[i] : in[i] * negative_slope; }
}

// ref is the bottom data, or the top data when the slope is >= 0 (same sign as x).
extern "C" __global__ void relu_backward(const int n, const Dtype* top_diff, const Dtype* ref,
                                         Dtype* bottom_diff, const Dtype negative_slope) {
  CUDA_KERNEL_LOOP(i, n) {
    bottom_diff[i] = ref[i] > 0 ? top_diff[i] : top_diff[i] * negative_slope;
  }
}

extern "C" __global__ void sigmoid_forward(const int n, const Dtype* in, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = k_sigmoid(in[i]); }
}

extern "C" __global__ void sigmoid_backward(const int n, const Dtype* top_diff, const Dtype* top,
                                            Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) { bottom_diff[i] = top_diff[i] * top[i] * (Dtype(1) - top[i]); }
}

extern "C" __global__ void tanh_forward(const int n, const Dtype* in, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = k_tanh(in[i]); }
}

extern "C" __global__ void tanh_backward(const int n, const Dtype* top_diff, const Dtype* top,
                                         Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) { bottom_diff[i] = top_diff[i] * (Dtype(1) - top[i] * top[i]); }
}

extern "C" __global__ void elu_forward(const int n, const Dtype* in, Dtype* out, const Dtype alpha) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = in[i] > 0 ? in[i] : alpha * k_expm1(kmin(in[i], Dtype(0))); }
}

// dy/dx = 1 (x > 0), alpha + y = alpha exp(x) (x <= 0); ref as in relu_backward.
extern "C" __global__ void elu_backward(const int n, const Dtype* top_diff, const Dtype* top,
                                        const Dtype* ref, Dtype* bottom_diff, const Dtype alpha) {
  CUDA_KERNEL_LOOP(i, n) {
    bottom_diff[i] = ref[i] > 0 ? top_diff[i] : top_diff[i] * (top[i] + alpha);
  }
}

// softplus: max(x, 0) + log(1 + exp(-|x|))
extern "C" __global__ void bnll_forward(const int n, const Dtype* in, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = kmax(in[i], Dtype(0)) + k_log1p(k_exp(-k_abs(in[i]))); }
}

// Caffe's kBNLL_THRESHOLD 50 caps exp() in the gradient.
extern "C" __global__ void bnll_backward(const int n, const Dtype* top_diff, const Dtype* bottom,
                                         Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype e = k_exp(kmin(bottom[i], Dtype(50)));
    bottom_diff[i] = top_diff[i] * (e / (e + Dtype(1)));
  }
}

extern "C" __global__ void absval_forward(const int n, const Dtype* in, Dtype* out) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = k_abs(in[i]); }
}

extern "C" __global__ void absval_backward(const int n, const Dtype* top_diff, const Dtype* bottom,
                                           Dtype* bottom_diff) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype x = bottom[i];
    const Dtype sign = x > 0 ? Dtype(1) : (x < 0 ? Dtype(-1) : Dtype(0));
    bottom_diff[i] = top_diff[i] * sign;
  }
}

extern "C" __global__ void clip_forward(const int n, const Dtype* in, Dtype* out,
                                        const Dtype lo, const Dtype hi) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = kmax(lo, kmin(in[i], hi)); }
}

// the gradient passes where lo <= x <= hi (boundaries included, as Caffe)
extern "C" __global__ void clip_backward(const int n, const Dtype* top_diff, const Dtype* bottom,
                                         Dtype* bottom_diff, const Dtype lo, const Dtype hi) {
  CUDA_KERNEL_LOOP(i, n) {
    bottom_diff[i] = (bottom[i] >= lo && bottom[i] <= hi) ? top_diff[i] : Dtype(0);
  }
}

// y = x * sigmoid(beta x); the sigmoid is kept for backward (Caffe's sigmoid_output_).
extern "C" __global__ void swish_forward(const int n, const Dtype* in, Dtype* out,
                                         Dtype* sigmoid_out, const Dtype beta) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype x = in[i];
    const Dtype s = k_sigmoid(x * beta);
    sigmoid_out[i] = s;
    out[i] = x * s;
  }
}

// d/dx [x s(beta x)] = beta y + s (1 - beta y)
extern "C" __global__ void swish_backward(const int n, const Dtype* top_diff, const Dtype* top,
                                          const Dtype* sigmoid_out, Dtype* bottom_diff,
                                          const Dtype beta) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype by = beta * top[i];
    bottom_diff[i] = top_diff[i] * (by + sigmoid_out[i] * (Dtype(1) - by));
  }
}

extern "C" __global__ void threshold_forward(const int n, const Dtype* in, Dtype* out,
                                             const Dtype threshold) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = in[i] > threshold ? Dtype(1) : Dtype(0); }
}

// y = (shift + scale x)^power; the constant cases (power 0 or scale 0) are filled by the host.
extern "C" __global__ void power_forward(const int n, const Dtype* in, Dtype* out,
                                         const Dtype power, const Dtype scale, const Dtype shift) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype inner = in[i] * scale + shift;
    out[i] = power == Dtype(1) ? inner : k_pow(inner, power);
  }
}

// dy/dx = power scale (shift + scale x)^(power - 1) = diff_scale (...)^(power - 1); constant
// when power is 1 or diff_scale is 0.  The power form (rather than Caffe's y / inner) gives
// the true limit where the inner term is 0.
extern "C" __global__ void power_backward(const int n, const Dtype* top_diff, const Dtype* bottom,
                                          Dtype* bottom_diff, const Dtype power, const Dtype scale,
                                          const Dtype shift, const Dtype diff_scale) {
  CUDA_KERNEL_LOOP(i, n) {
    if (diff_scale == Dtype(0) || power == Dtype(1)) {
      bottom_diff[i] = top_diff[i] * diff_scale;
    } else {
      const Dtype inner = bottom[i] * scale + shift;
      bottom_diff[i] = power == Dtype(2)
          ? top_diff[i] * (diff_scale * inner)
          : top_diff[i] * (diff_scale * k_pow(inner, power - Dtype(1)));
    }
  }
}

// y = outer_scale * exp(inner_scale * x)   (base^(shift + scale x))
extern "C" __global__ void exp_forward(const int n, const Dtype* in, Dtype* out,
                                       const Dtype inner_scale, const Dtype outer_scale) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = k_exp(in[i] * inner_scale) * outer_scale; }
}

extern "C" __global__ void exp_backward(const int n, const Dtype* top_diff, const Dtype* top,
                                        Dtype* bottom_diff, const Dtype inner_scale) {
  CUDA_KERNEL_LOOP(i, n) { bottom_diff[i] = top_diff[i] * top[i] * inner_scale; }
}

// y = log(shift + scale x) / log(base)
extern "C" __global__ void log_forward(const int n, const Dtype* in, Dtype* out,
                                       const Dtype base_scale, const Dtype input_scale,
                                       const Dtype input_shift) {
  CUDA_KERNEL_LOOP(i, n) { out[i] = k_log(in[i] * input_scale + input_shift) * base_scale; }
}

extern "C" __global__ void log_backward(const int n, const Dtype* top_diff, const Dtype* bottom,
                                        Dtype* bottom_diff, const Dtype backward_num_scale,
                                        const Dtype input_scale, const Dtype input_shift) {
  CUDA_KERNEL_LOOP(i, n) {
    bottom_diff[i] = top_diff[i] * (backward_num_scale / (bottom[i] * input_scale + input_shift));
  }
}

// PReLU: slope a_c per channel c = (i / dim) % channels (div_factor = channels when one slope
// is shared, so c is always 0).
extern "C" __global__ void prelu_forward(const int n, const Dtype* in, Dtype* out,
                                         const Dtype* slope, const int channels, const int dim,
                                         const int div_factor) {
  CUDA_KERNEL_LOOP(i, n) {
    const int c = (i / dim) % channels / div_factor;
    out[i] = in[i] > 0 ? in[i] : in[i] * slope[c];
  }
}

extern "C" __global__ void prelu_backward(const int n, const Dtype* top_diff, const Dtype* bottom,
                                          Dtype* bottom_diff, const Dtype* slope,
                                          const int channels, const int dim, const int div_factor) {
  CUDA_KERNEL_LOOP(i, n) {
    const int c = (i / dim) % channels / div_factor;
    bottom_diff[i] = bottom[i] > 0 ? top_diff[i] : top_diff[i] * slope[c];
  }
}

// Per-element terms of the slope gradient, dy * x where x <= 0; the host sums them per
// channel (Caffe's PReLUParamBackward + gemv).
extern "C" __global__ void prelu_param_terms(const int n, const Dtype* top_diff,
                                             const Dtype* bottom, Dtype* terms) {
  CUDA_KERNEL_LOOP(i, n) { terms[i] = bottom[i] <= 0 ? top_diff[i] * bottom[i] : Dtype(0); }
}

// Dropout: element i is kept when uniform(seed, i) >= ratio (P(keep) = 1 - ratio) and scaled.
// The mask is a pure function of (seed, i), so backward regenerates it instead of storing it.
extern "C" __global__ void dropout_forward(const int n, const Dtype* in, Dtype* out,
                                           const unsigned long long seed, const float ratio,
                                           const Dtype scale) {
  CUDA_KERNEL_LOOP(i, n) {
    out[i] = k_uniform(seed, (unsigned long long)i) >= ratio ? in[i] * scale : Dtype(0);
  }
}

extern "C" __global__ void dropout_backward(const int n, const Dtype* top_diff, Dtype* bottom_diff,
                                            const unsigned long long seed, const float ratio,
                                            const Dtype scale) {
  CUDA_KERNEL_LOOP(i, n) {
    bottom_diff[i] = k_uniform(seed, (unsigned long long)i) >= ratio ? top_diff[i] * scale
                                                                     : Dtype(0);
  }
}
