// The solvers' ComputeUpdateValue, one fused kernel per rule (Caffe's sgd/nesterov/adagrad/
// rmsprop/adadelta/adam _solver.cu).  g is the (normalized, regularized) gradient and is
// replaced by the step; h, h2 are the rule's history.  The order of the float operations is
// that of caffeine's CPU code (caffeine/solvers/updates.py), so the host build of these
// kernels reproduces it bit for bit.
#include "common.cuh"

// h = momentum h + lr g;  step = h
extern "C" __global__ void sgd_update(const int n, Dtype* g, Dtype* h, const Dtype momentum,
                                      const Dtype local_rate) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype hi = h[i] * momentum + local_rate * g[i];
    h[i] = hi;
    g[i] = hi;
  }
}

// h' = momentum h + lr g;  step = (1 + momentum) h' - momentum h
extern "C" __global__ void nesterov_update(const int n, Dtype* g, Dtype* h, const Dtype momentum,
                                           const Dtype local_rate) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype hi = h[i];
    const Dtype hi_new = hi * momentum + local_rate * g[i];
    h[i] = hi_new;
    g[i] = (Dtype(1) + momentum) * hi_new - momentum * hi;
  }
}

// h += g^2;  step = g / (sqrt(h) + delta) * lr
extern "C" __global__ void adagrad_update(const int n, Dtype* g, Dtype* h, const Dtype delta,
                                          const Dtype local_rate) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype gi = g[i];
    const Dtype hi = h[i] + gi * gi;
    h[i] = hi;
    g[i] = gi / (k_sqrt(hi) + delta) * local_rate;
  }
}

// h = decay h + (1 - decay) g^2;  step = g / (sqrt(h) + delta) * lr
extern "C" __global__ void rmsprop_update(const int n, Dtype* g, Dtype* h, const Dtype rms_decay,
                                          const Dtype delta, const Dtype local_rate) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype gi = g[i];
    const Dtype hi = h[i] * rms_decay + (Dtype(1) - rms_decay) * (gi * gi);
    h[i] = hi;
    g[i] = gi / (k_sqrt(hi) + delta) * local_rate;
  }
}

// h = m h + (1-m) g^2;  g *= sqrt((h2 + delta) / (h + delta));  h2 = m h2 + (1-m) g^2;
// step = g lr
extern "C" __global__ void adadelta_update(const int n, Dtype* g, Dtype* h, Dtype* h2,
                                           const Dtype momentum, const Dtype delta,
                                           const Dtype local_rate) {
  const Dtype one_minus = Dtype(1) - momentum;
  CUDA_KERNEL_LOOP(i, n) {
    Dtype gi = g[i];
    const Dtype hi = h[i] * momentum + one_minus * (gi * gi);
    h[i] = hi;
    gi = gi * k_sqrt((h2[i] + delta) / (hi + delta));
    h2[i] = h2[i] * momentum + one_minus * (gi * gi);
    g[i] = gi * local_rate;
  }
}

// m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  step = m / (sqrt(v) + eps) * corrected_rate
// with corrected_rate = lr sqrt(1 - b2^t) / (1 - b1^t), computed by the host.
extern "C" __global__ void adam_update(const int n, Dtype* g, Dtype* m, Dtype* v,
                                       const Dtype beta1, const Dtype beta2, const Dtype eps,
                                       const Dtype corrected_rate) {
  CUDA_KERNEL_LOOP(i, n) {
    const Dtype gi = g[i];
    const Dtype mi = m[i] * beta1 + (Dtype(1) - beta1) * gi;
    const Dtype vi = v[i] * beta2 + (Dtype(1) - beta2) * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    g[i] = mi / (k_sqrt(vi) + eps) * corrected_rate;
  }
}
