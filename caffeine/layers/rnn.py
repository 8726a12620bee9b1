"""RNN (Caffe's RNNLayer): a simple tanh recurrent net with a tanh output layer.

For t = 1..T (Caffe's FillUnrolledNet, rnn_layer.cpp)::

    h_t = tanh(W_hh (cont_t * h_{t-1}) + W_xh x_t + b_h [+ W_xh_static x_static])
    o_t = tanh(W_ho h_t + b_o)

top = o (T, N, num_output).  Params, in Caffe's order: W_xh (H, D), b_h (H),
[W_xh_static (H, D_static)], W_hh (H, H), W_ho (H, H), b_o (H).
Interface details (bottoms, tops, carried state): see recurrent_base.
"""
import numpy as np

from caffeine.layers import register_layer
from caffeine.layers.recurrent_base import RecurrentLayer


@register_layer("RNN")
class RNNLayer(RecurrentLayer):
    gate_factor = 1
    recur_names = ("h",)
    input_param_names = ("W_xh", "b_h", "W_xh_static")

    def make_recurrent_params(self, rp):
        k = self.num_input_params
        self.i_hh, self.i_ho, self.i_bo = k, k + 1, k + 2
        self.blobs += [self._param("W_hh", (self.H, self.H), rp.weight_filler),
                       self._param("W_ho", (self.H, self.H), rp.weight_filler),
                       self._param("b_o", (self.H,), rp.bias_filler)]

    def recurrent_forward(self, bottom, top):
        T, N, H = self.T, self.N, self.H
        cont = self.cont(bottom)
        pre = self.input_transform(bottom)
        w_hh = self.blobs[self.i_hh].data
        h = np.empty((T + 1, N, H), dtype=self.dtype)   # h[0] = initial state, h[t] = h_t
        h[0] = self.initial_state(bottom)[0]
        for t in range(T):
            pre[t] += (cont[t] * h[t]) @ w_hh.T
            np.tanh(pre[t], out=h[t + 1])
        o = top[0].data
        np.matmul(h[1:], self.blobs[self.i_ho].data.T, out=o)
        o += self.blobs[self.i_bo].data
        np.tanh(o, out=o)
        self.debug_log("Forward", "h", h[1:])
        self.finish_forward(top, [h[T]])
        self._cache = (h, cont.copy())

    def recurrent_backward(self, top, propagate_down, bottom):
        T, N, H = self.T, self.N, self.H
        h, cont = self._cache
        ppd = self.param_propagate_down
        o = top[0].data
        do = top[0].diff * (1 - o * o)                       # through o_t = tanh(.)
        do2 = do.reshape(T * N, H)
        if ppd[self.i_ho]:
            self.blobs[self.i_ho].diff += do2.T @ h[1:].reshape(T * N, H)
        if ppd[self.i_bo]:
            self.blobs[self.i_bo].diff += do2.sum(axis=0)
        dh_out = do @ self.blobs[self.i_ho].data               # d loss / d h_t via o_t
        w_hh = self.blobs[self.i_hh].data
        dh_next = self.final_state_diffs(top)[0]              # d loss / d h_T from the h_T top
        dpre = np.empty((T, N, H), dtype=self.dtype)
        for t in reversed(range(T)):
            dh = dh_out[t] + dh_next
            dpre[t] = dh * (1 - h[t + 1] * h[t + 1])          # through h_t = tanh(.)
            dh_next = cont[t] * (dpre[t] @ w_hh)              # into h_{t-1} via h_conted_{t-1}
        if ppd[self.i_hh]:
            h_conted = cont * h[:-1]
            self.blobs[self.i_hh].diff += dpre.reshape(T * N, H).T @ h_conted.reshape(T * N, H)
        self.debug_log("Backward", "h_neuron_input diff", dpre)
        self.input_backward(dpre, propagate_down, bottom)
        self.write_initial_state_diffs([dh_next], propagate_down, bottom)
