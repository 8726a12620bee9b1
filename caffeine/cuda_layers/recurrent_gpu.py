"""RNN and LSTM on the GPU: the per-timestep kernels of recurrent.cu, launched with the same
signature as the numpy steps in caffeine.layers.rnn / lstm, so the layers' time loops
(caffeine.layers.recurrent_base and subclasses) run unchanged on both devices with CuPy as
their array module; the GEMMs there go to cuBLAS through cupy.matmul.

Every argument is a C-contiguous device array: a row of ``cont`` (N,), or one timestep's
(N, H) / (N, 4H) slice of a (T, N, ...) array.  Nothing is read back to the host.
"""
from caffeine.cuda_layers.launch import i32, run


def rnn_forward_step(pre, hw, cont, h):
    """h = tanh(pre + cont * hw) (rnn_step_forward)."""
    run("recurrent", "rnn_step_forward", h.size, i32(h.shape[1]), pre, hw, cont, h, dtype=h.dtype)


def rnn_backward_step(h, dh_top, dh_rec, cont_rec, dpre):
    """dpre = (dh_top + cont_rec * dh_rec) (1 - h^2) (rnn_step_backward)."""
    run("recurrent", "rnn_step_backward", h.size, i32(h.shape[1]), h, dh_top, dh_rec, cont_rec, dpre,
        dtype=h.dtype)


def lstm_forward_step(gates, hw, cont, c_prev, c, tanh_c, h):
    """Caffe's LSTMUnit forward on gates + cont * hw; activated gates replace ``gates``."""
    run("recurrent", "lstm_unit_forward", h.size, i32(h.shape[1]), gates, hw, cont, c_prev, c, tanh_c, h,
        dtype=h.dtype)


def lstm_backward_step(gates, c_prev, tanh_c, cont, dh_top, dh_rec, cont_rec, dc, dgates):
    """Caffe's LSTMUnit backward; ``dc`` goes in as d c_t and comes out as d c_{t-1}."""
    run("recurrent", "lstm_unit_backward", dc.size, i32(dc.shape[1]), gates, c_prev, tanh_c, cont, dh_top,
        dh_rec, cont_rec, dc, dgates, dtype=dc.dtype)
