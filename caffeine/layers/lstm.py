"""LSTM (Caffe's LSTMLayer), with the LSTMUnit math inlined.

For t = 1..T (Caffe's FillUnrolledNet, lstm_layer.cpp, and LSTMUnitLayer)::

    [i', f', o', g'] = W_hc (cont_t * h_{t-1}) + W_xc x_t + b_c [+ W_xc_static x_static]
    i = sigmoid(i'), f = sigmoid(f'), o = sigmoid(o'), g = tanh(g')
    c_t = cont_t * f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Gate blocks are stacked in Caffe's order i, f, o, g along the 4*num_output axis.
top = h (T, N, num_output).  Params, in Caffe's order: W_xc (4H, D), b_c (4H),
[W_xc_static (4H, D_static)], W_hc (4H, H).
Interface details (bottoms, tops, carried state): see recurrent_base.
"""
import numpy as np

from caffeine.layers import register_layer
from caffeine.layers.recurrent_base import RecurrentLayer, sigmoid


@register_layer("LSTM")
class LSTMLayer(RecurrentLayer):
    gate_factor = 4
    recur_names = ("h", "c")
    input_param_names = ("W_xc", "b_c", "W_xc_static")

    def make_recurrent_params(self, rp):
        self.i_hc = self.num_input_params
        self.blobs.append(self._param("W_hc", (self.G, self.H), rp.weight_filler))

    def recurrent_forward(self, bottom, top):
        T, N, H = self.T, self.N, self.H
        cont = self.cont(bottom)
        gates = self.input_transform(bottom)                  # (T, N, 4H): pre-activations
        w_hc = self.blobs[self.i_hc].data
        h0, c0 = self.initial_state(bottom)
        c = np.empty((T + 1, N, H), dtype=self.dtype)          # c[0] = c_0, c[t] = c_t
        c[0] = c0
        tanh_c = np.empty((T, N, H), dtype=self.dtype)
        h = top[0].data                                       # h[t - 1] = h_t
        h_prev = h0
        for t in range(T):
            a = gates[t]
            a += (cont[t] * h_prev) @ w_hc.T
            a[:, :3 * H] = sigmoid(a[:, :3 * H])                # i, f, o
            np.tanh(a[:, 3 * H:], out=a[:, 3 * H:])            # g
            i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c[t + 1] = cont[t] * f * c[t] + i * g
            np.tanh(c[t + 1], out=tanh_c[t])
            np.multiply(o, tanh_c[t], out=h[t])
            h_prev = h[t]
        self.debug_log("Forward", "c", c[1:])
        self.debug_log("Forward", "h", h)
        self.finish_forward(top, [h[T - 1] if T else h0, c[T]])
        h_before = np.concatenate([np.asarray(h0)[None], h[:-1]], axis=0)  # h_{t-1} for t = 1..T
        self._cache = (gates, c, tanh_c, h_before, cont.copy())

    def recurrent_backward(self, top, propagate_down, bottom):
        T, N, H = self.T, self.N, self.H
        acts, c, tanh_c, h_before, cont = self._cache
        w_hc = self.blobs[self.i_hc].data
        dh_next, dc_next = self.final_state_diffs(top)
        dh_top = top[0].diff
        dgates = np.empty((T, N, 4 * H), dtype=self.dtype)
        for t in reversed(range(T)):
            a = acts[t]
            i, f, o, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            dh = dh_top[t] + dh_next
            # Caffe's LSTMUnit backward: c_term_diff = dc + dh * o * (1 - tanh(c)^2)
            dc = dc_next + dh * o * (1 - tanh_c[t] * tanh_c[t])
            d = dgates[t]
            d[:, :H] = dc * g * i * (1 - i)
            d[:, H:2 * H] = dc * cont[t] * c[t] * f * (1 - f)
            d[:, 2 * H:3 * H] = dh * tanh_c[t] * o * (1 - o)
            d[:, 3 * H:] = dc * i * (1 - g * g)
            dc_next = dc * cont[t] * f
            dh_next = cont[t] * (d @ w_hc)                     # into h_{t-1} via h_conted_{t-1}
        if self.param_propagate_down[self.i_hc]:
            h_conted = cont * h_before
            self.blobs[self.i_hc].diff += dgates.reshape(T * N, 4 * H).T @ h_conted.reshape(T * N, H)
        self.debug_log("Backward", "gate_input diff", dgates)
        self.input_backward(dgates, propagate_down, bottom)
        self.write_initial_state_diffs([dh_next, dc_next], propagate_down, bottom)
