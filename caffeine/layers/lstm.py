"""LSTM (Caffe's LSTMLayer), with the LSTMUnit math inlined.

For t = 1..T (Caffe's FillUnrolledNet, lstm_layer.cpp, and LSTMUnitLayer)::

    [i', f', o', g'] = W_hc (cont_t * h_{t-1}) + W_xc x_t + b_c [+ W_xc_static x_static]
    i = sigmoid(i'), f = sigmoid(f'), o = sigmoid(o'), g = tanh(g')
    c_t = cont_t * f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Gate blocks are stacked in Caffe's order i, f, o, g along the 4*num_output axis.
top = h (T, N, num_output).  Params, in Caffe's order: W_xc (4H, D), b_c (4H),
[W_xc_static (4H, D_static)], W_hc (4H, H).
Interface details (bottoms, tops, carried state, CPU/GPU): see recurrent_base.  The
per-timestep steps below are the numpy twins of lstm_unit_forward / lstm_unit_backward in
layers_cuda/recurrent.cu; the recurrent GEMM runs on h_{t-1} and the step applies cont,
since W_hc (cont h) = cont (W_hc h) for a per-stream scalar cont.
"""
import numpy as np

from caffeine.cuda_layers import recurrent_gpu
from caffeine.layers import register_layer
from caffeine.layers.recurrent_base import RecurrentLayer, sigmoid


def forward_step(gates, hw, cont, c_prev, c, tanh_c, h):
    """LSTMUnit forward on gates + cont * hw (N, 4H); the activated gates replace ``gates``,
    c_t, tanh(c_t) and h_t go to ``c``, ``tanh_c``, ``h``; hw is scratch."""
    H = c.shape[1]
    k = cont[:, None]
    hw *= k
    gates += hw
    gates[:, :3 * H] = sigmoid(gates[:, :3 * H])                # i, f, o
    np.tanh(gates[:, 3 * H:], out=gates[:, 3 * H:])             # g
    i, f, o, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.multiply(k * f, c_prev, out=c)
    c += i * g
    np.tanh(c, out=tanh_c)
    np.multiply(o, tanh_c, out=h)


def backward_step(gates, c_prev, tanh_c, cont, dh_top, dh_rec, cont_rec, dc, dgates):
    """Caffe's LSTMUnit backward for one step: dh = dh_top + cont_rec * dh_rec (dh_rec =
    dgates_{t+1} W_hc, gated by that step's cont); ``dc`` enters as d c_t, leaves as d c_{t-1}."""
    H = dc.shape[1]
    i, f, o, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    k = cont[:, None]
    dh = dh_top + cont_rec[:, None] * dh_rec
    # Caffe's LSTMUnit backward: c_term_diff = dc + dh * o * (1 - tanh(c)^2)
    dc += dh * o * (1 - tanh_c * tanh_c)
    dgates[:, :H] = dc * g * i * (1 - i)
    dgates[:, H:2 * H] = dc * k * c_prev * f * (1 - f)
    dgates[:, 2 * H:3 * H] = dh * tanh_c * o * (1 - o)
    dgates[:, 3 * H:] = dc * i * (1 - g * g)
    dc *= k
    dc *= f


@register_layer("LSTM")
class LSTMLayer(RecurrentLayer):
    gate_factor = 4
    recur_names = ("h", "c")
    input_param_names = ("W_xc", "b_c", "W_xc_static")
    has_gpu_kernel = True  # layers_cuda/recurrent.cu (lstm_unit_*), GEMMs in cuBLAS

    def make_recurrent_params(self, rp):
        self.i_hc = self.num_input_params
        self.blobs.append(self._param("W_hc", (self.G, self.H), rp.weight_filler))

    def recurrent_forward(self, bottom, top, io):
        xp, T, N, H = io.xp, self.T, self.N, self.H
        step = recurrent_gpu.lstm_forward_step if io.gpu else forward_step
        cont = self.cont(bottom, io)
        gates = self.input_transform(bottom, io)               # (T, N, 4H): pre-activations
        w_hc = io.data(self.blobs[self.i_hc])
        h0, c0 = self.initial_state(bottom, io)
        c = xp.empty((T + 1, N, H), dtype=self.dtype)          # c[0] = c_0, c[t] = c_t
        c[0] = c0
        tanh_c = xp.empty((T, N, H), dtype=self.dtype)
        h = io.mutable_data(top[0])                            # h[t - 1] = h_t
        hw = xp.empty((N, 4 * H), dtype=self.dtype)
        h_prev = h0
        for t in range(T):
            xp.matmul(h_prev, w_hc.T, out=hw)
            step(gates[t], hw, cont[t], c[t], c[t + 1], tanh_c[t], h[t])
            h_prev = h[t]
        self.debug_log("Forward", "c", c[1:])
        self.debug_log("Forward", "h", h)
        h_before = xp.concatenate([h0[None], h[:-1]], axis=0)  # h_{t-1} for t = 1..T (before h0 is overwritten)
        self.finish_forward(top, [h[T - 1] if T else h0, c[T]], io)
        self._cache = (io.gpu, (gates, c, tanh_c, h_before, cont))

    def recurrent_backward(self, top, propagate_down, bottom, io, acts, c, tanh_c, h_before, cont):
        xp, T, N, H = io.xp, self.T, self.N, self.H
        step = recurrent_gpu.lstm_backward_step if io.gpu else backward_step
        w_hc = io.data(self.blobs[self.i_hc])
        dh_rec, dc = self.final_state_diffs(top, io)          # from the h_T / c_T tops (h ungated)
        cont_rec = xp.ones(N, dtype=self.dtype)
        dh_top = io.diff(top[0])
        dgates = xp.empty((T, N, 4 * H), dtype=self.dtype)
        for t in reversed(range(T)):
            step(acts[t], c[t], tanh_c[t], cont[t], dh_top[t], dh_rec, cont_rec, dc, dgates[t])
            xp.matmul(dgates[t], w_hc, out=dh_rec)             # into h_{t-1}, gated by cont_t next step
            cont_rec = cont[t]
        self.recurrent_weight_backward(self.i_hc, dgates, cont, h_before, io)
        self.debug_log("Backward", "gate_input diff", dgates)
        self.input_backward(dgates, propagate_down, bottom, io)
        if self.expose_hidden:
            self.write_initial_state_diffs([cont_rec[:, None] * dh_rec, dc], propagate_down, bottom, io)
