// The per-timestep elementwise parts of the recurrent layers (Caffe's RNNLayer and LSTMLayer,
// whose unrolled nets use TanH and LSTMUnit layers for this), fused into one kernel per step
// and direction.  The GEMMs around them (input transform, h_{t-1} W^T, the gradient GEMMs) run
// in cuBLAS; the host loops over the timesteps and only launches.
//
// Layout: one row per stream r (N rows), H = num_output; an LSTM pre-activation row holds the
// gate blocks i, f, o, g (Caffe's order), 4H values.  cont[r] is the sequence indicator of
// stream r at this timestep.  Caffe gates the carried state as (cont h_{t-1}) W^T; since cont
// is one scalar per row that equals cont (h_{t-1} W^T), so the GEMM runs on h_{t-1} itself and
// the gating is fused here (hw = h_{t-1} W^T).  Backward mirrors it: dh_rec = dpre_{t+1} W is
// the ungated recurrent gradient and cont_rec the indicator of the step it came from.
// Thread (r, j), j < H, owns column j of row r in every array (all four gates for the LSTM).
#include "common.cuh"

// h_t = tanh(pre + cont * hw).
extern "C" __global__ void rnn_step_forward(const int n, const int H, const Dtype* pre, const Dtype* hw,
                                            const Dtype* cont, Dtype* h) {
  CUDA_KERNEL_LOOP(index, n) {
    h[index] = k_tanh(pre[index] + cont[index / H] * hw[index]);
  }
}

// d loss / d pre_t = (dh_top + cont_rec * dh_rec) (1 - h_t^2): the output path's diff plus the
// diff coming back from step t+1, through the tanh.
extern "C" __global__ void rnn_step_backward(const int n, const int H, const Dtype* h, const Dtype* dh_top,
                                             const Dtype* dh_rec, const Dtype* cont_rec, Dtype* dpre) {
  CUDA_KERNEL_LOOP(index, n) {
    const Dtype dh = dh_top[index] + cont_rec[index / H] * dh_rec[index];
    const Dtype v = h[index];
    dpre[index] = dh * (Dtype(1) - v * v);
  }
}

// Caffe's LSTMUnit forward on gates = pre + cont * hw:
//   i, f, o = sigmoid(.), g = tanh(.), c_t = cont f c_{t-1} + i g, h_t = o tanh(c_t).
// The activated gates overwrite the pre-activations (backward needs them), tanh(c_t) is kept.
extern "C" __global__ void lstm_unit_forward(const int n, const int H, Dtype* gates, const Dtype* hw,
                                             const Dtype* cont, const Dtype* c_prev, Dtype* c,
                                             Dtype* tanh_c, Dtype* h) {
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / H;
    const int j = index % H;
    const long long row = (long long)r * 4 * H;
    Dtype* a = gates + row;
    const Dtype* w = hw + row;
    const Dtype k = cont[r];
    const Dtype i = k_sigmoid(a[j] + k * w[j]);
    const Dtype f = k_sigmoid(a[H + j] + k * w[H + j]);
    const Dtype o = k_sigmoid(a[2 * H + j] + k * w[2 * H + j]);
    const Dtype g = k_tanh(a[3 * H + j] + k * w[3 * H + j]);
    a[j] = i;
    a[H + j] = f;
    a[2 * H + j] = o;
    a[3 * H + j] = g;
    const Dtype ct = k * f * c_prev[index] + i * g;
    const Dtype tc = k_tanh(ct);
    c[index] = ct;
    tanh_c[index] = tc;
    h[index] = o * tc;
  }
}

// Caffe's LSTMUnit backward for one step.  dh = dh_top + cont_rec * dh_rec is the diff of h_t;
// dc holds the diff of c_t from step t+1 on entry and that of c_{t-1} on exit (same element,
// same thread):
//   dc_t    = dc + dh o (1 - tanh(c_t)^2)
//   di' = dc_t g i (1 - i)          df' = dc_t cont c_{t-1} f (1 - f)
//   do' = dh tanh(c_t) o (1 - o)    dg' = dc_t i (1 - g^2)
//   dc_{t-1} = dc_t cont f
extern "C" __global__ void lstm_unit_backward(const int n, const int H, const Dtype* gates, const Dtype* c_prev,
                                              const Dtype* tanh_c, const Dtype* cont, const Dtype* dh_top,
                                              const Dtype* dh_rec, const Dtype* cont_rec, Dtype* dc,
                                              Dtype* dgates) {
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / H;
    const int j = index % H;
    const long long row = (long long)r * 4 * H;
    const Dtype* a = gates + row;
    Dtype* d = dgates + row;
    const Dtype i = a[j];
    const Dtype f = a[H + j];
    const Dtype o = a[2 * H + j];
    const Dtype g = a[3 * H + j];
    const Dtype k = cont[r];
    const Dtype tc = tanh_c[index];
    const Dtype dh = dh_top[index] + cont_rec[r] * dh_rec[index];
    const Dtype dct = dc[index] + dh * o * (Dtype(1) - tc * tc);
    d[j] = dct * g * i * (Dtype(1) - i);
    d[H + j] = dct * k * c_prev[index] * f * (Dtype(1) - f);
    d[2 * H + j] = dh * tc * o * (Dtype(1) - o);
    d[3 * H + j] = dct * i * (Dtype(1) - g * g);
    dc[index] = dct * k * f;
  }
}
