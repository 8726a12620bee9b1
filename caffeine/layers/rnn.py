"""RNN (Caffe's RNNLayer): a simple tanh recurrent net with a tanh output layer.

For t = 1..T (Caffe's FillUnrolledNet, rnn_layer.cpp)::

    h_t = tanh(W_hh (cont_t * h_{t-1}) + W_xh x_t + b_h [+ W_xh_static x_static])
    o_t = tanh(W_ho h_t + b_o)

top = o (T, N, num_output).  Params, in Caffe's order: W_xh (H, D), b_h (H),
[W_xh_static (H, D_static)], W_hh (H, H), W_ho (H, H), b_o (H).
Interface details (bottoms, tops, carried state, CPU/GPU): see recurrent_base.  The
per-timestep steps below are the numpy twins of rnn_step_forward / rnn_step_backward in
layers_cuda/recurrent.cu; the recurrent GEMM runs on h_{t-1} and the step applies cont,
since W_hh (cont h) = cont (W_hh h) for a per-stream scalar cont.
"""
import numpy as np

from caffeine.cuda_layers import recurrent_gpu
from caffeine.layers import register_layer
from caffeine.layers.recurrent_base import RecurrentLayer


def forward_step(pre, hw, cont, h):
    """h = tanh(pre + cont * hw) for one timestep; pre and hw (N, H) are scratch."""
    hw *= cont[:, None]
    pre += hw
    np.tanh(pre, out=h)


def backward_step(h, dh_top, dh_rec, cont_rec, dpre):
    """dpre = (dh_top + cont_rec * dh_rec) (1 - h^2): the output path's diff plus the one
    from step t+1 (dh_rec = dpre_{t+1} W_hh, gated by that step's cont), through the tanh."""
    np.multiply(cont_rec[:, None], dh_rec, out=dpre)
    dpre += dh_top
    dpre *= 1 - h * h


@register_layer("RNN")
class RNNLayer(RecurrentLayer):
    gate_factor = 1
    recur_names = ("h",)
    input_param_names = ("W_xh", "b_h", "W_xh_static")
    has_gpu_kernel = True  # layers_cuda/recurrent.cu (rnn_step_*), GEMMs in cuBLAS

    def make_recurrent_params(self, rp):
        k = self.num_input_params
        self.i_hh, self.i_ho, self.i_bo = k, k + 1, k + 2
        self.blobs += [self._param("W_hh", (self.H, self.H), rp.weight_filler),
                       self._param("W_ho", (self.H, self.H), rp.weight_filler),
                       self._param("b_o", (self.H,), rp.bias_filler)]

    def recurrent_forward(self, bottom, top, io):
        xp, T, N, H = io.xp, self.T, self.N, self.H
        step = recurrent_gpu.rnn_forward_step if io.gpu else forward_step
        cont = self.cont(bottom, io)
        pre = self.input_transform(bottom, io)
        w_hh = io.data(self.blobs[self.i_hh])
        h = xp.empty((T + 1, N, H), dtype=self.dtype)   # h[0] = initial state, h[t] = h_t
        h[0] = self.initial_state(bottom, io)[0]
        hw = xp.empty((N, H), dtype=self.dtype)
        for t in range(T):
            xp.matmul(h[t], w_hh.T, out=hw)
            step(pre[t], hw, cont[t], h[t + 1])
        o = io.mutable_data(top[0]).reshape(T * N, H)
        xp.matmul(h[1:].reshape(T * N, H), io.data(self.blobs[self.i_ho]).T, out=o)
        o += io.data(self.blobs[self.i_bo])
        xp.tanh(o, out=o)
        self.debug_log("Forward", "h", h[1:])
        self.finish_forward(top, [h[T]], io)
        self._cache = (io.gpu, (h, cont))

    def recurrent_backward(self, top, propagate_down, bottom, io, h, cont):
        xp, T, N, H = io.xp, self.T, self.N, self.H
        step = recurrent_gpu.rnn_backward_step if io.gpu else backward_step
        ppd = self.param_propagate_down
        o = io.data(top[0]).reshape(T * N, H)
        do = io.diff(top[0]).reshape(T * N, H) * (1 - o * o)     # through o_t = tanh(.)
        if ppd[self.i_ho]:
            w_ho_diff = io.mutable_diff(self.blobs[self.i_ho])
            w_ho_diff += xp.matmul(do.T, h[1:].reshape(T * N, H))
        if ppd[self.i_bo]:
            b_o_diff = io.mutable_diff(self.blobs[self.i_bo])
            b_o_diff += do.sum(axis=0)
        dh_out = xp.matmul(do, io.data(self.blobs[self.i_ho])).reshape(T, N, H)  # d loss / d h_t via o_t
        w_hh = io.data(self.blobs[self.i_hh])
        dh_rec = self.final_state_diffs(top, io)[0]   # d loss / d h_T from the h_T top, ungated
        cont_rec = xp.ones(N, dtype=self.dtype)
        dpre = xp.empty((T, N, H), dtype=self.dtype)
        for t in reversed(range(T)):
            step(h[t + 1], dh_out[t], dh_rec, cont_rec, dpre[t])
            xp.matmul(dpre[t], w_hh, out=dh_rec)      # into h_{t-1}, gated by cont_t in the next step
            cont_rec = cont[t]
        self.recurrent_weight_backward(self.i_hh, dpre, cont, h[:-1], io)
        self.debug_log("Backward", "h_neuron_input diff", dpre)
        self.input_backward(dpre, propagate_down, bottom, io)
        if self.expose_hidden:
            self.write_initial_state_diffs([cont_rec[:, None] * dh_rec], propagate_down, bottom, io)
