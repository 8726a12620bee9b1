"""The recurrent kernels (layers_cuda/recurrent.cu), built for the host (host_shim.h + g++ +
ctypes), against numpy transcriptions of Caffe's RNN step and LSTMUnit (the state gated before
the GEMM, (cont h_{t-1}) W^T, as Caffe's unrolled net does), finite differences, and the layers'
numpy steps; then RNN and LSTM through the whole emulated GPU path against the CPU layer over
several forwards (state carried, reset), with a mode switch, and without host transfers."""
import contextlib

import numpy as np
import pytest

from caffeine import backend
from caffeine.blob import Blob
from caffeine.layers import lstm, rnn
from caffeine.testing import cuda_host
from caffeine.testing.emulated_gpu import emulated_gpu
from caffeine.testing.layer_helpers import make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
CONT = [0.0, 1.0, 0.5]   # a sequence start, a continuation, a fractional indicator


def same(got, want):
    """Equal up to the last bit or two (numpy's SIMD tanh/exp and libm's differ there)."""
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def step_inputs(rng, G, H, dtype):
    """pre (N, G), h_{t-1}, c_{t-1} (N, H), W_h (G, H), cont (N,) for N = 3 streams."""
    N = len(CONT)
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return (cast(rng.standard_normal((N, G))), cast(rng.standard_normal((N, H))),
            cast(rng.standard_normal((N, H))), cast(rng.uniform(-0.8, 0.8, (G, H))), cast(CONT))


def lstm_oracle(pre, h_prev, c_prev, w, cont):
    """Caffe's unrolled LSTM step: gates = pre + (cont h) W^T, then LSTMUnit."""
    H = h_prev.shape[1]
    a = pre + (cont[:, None] * h_prev) @ w.T
    i, f, o, g = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), sigmoid(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    c = cont[:, None] * f * c_prev + i * g
    return np.concatenate([i, f, o, g], axis=1), c, o * np.tanh(c)


def run_lstm_forward(pre, h_prev, c_prev, w, cont, dtype, grid=3, block=4):
    gates, hw = pre.copy(), np.ascontiguousarray(h_prev @ w.T)
    c, tanh_c, h = (np.zeros_like(c_prev) for _ in range(3))
    cuda_host.launch("recurrent", "lstm_unit_forward", c.size, (I(c.shape[1]), gates, hw, cont, c_prev, c, tanh_c, h),
                     dtype=dtype, grid=grid, block=block)
    return gates, c, tanh_c, h


def test_rnn_step_kernels_match_caffes_step_and_the_numpy_steps():
    rng = np.random.default_rng(0)
    pre, h_prev, _, w, cont = step_inputs(rng, 5, 5, np.float64)
    h = np.zeros_like(h_prev)
    cuda_host.launch("recurrent", "rnn_step_forward", h.size, (I(5), pre, h_prev @ w.T, cont, h), dtype=np.float64)
    np.testing.assert_allclose(h, np.tanh(pre + (cont[:, None] * h_prev) @ w.T), rtol=1e-13)
    mine = np.zeros_like(h)
    rnn.forward_step(pre.copy(), h_prev @ w.T, cont, mine)
    same(mine, h)

    dh_top, dh_rec, cont_rec = rng.standard_normal(h.shape), rng.standard_normal(h.shape), cont[::-1].copy()
    dpre = np.zeros_like(h)
    cuda_host.launch("recurrent", "rnn_step_backward", h.size, (I(5), h, dh_top, dh_rec, cont_rec, dpre),
                     dtype=np.float64)
    np.testing.assert_allclose(dpre, (dh_top + cont_rec[:, None] * dh_rec) * (1 - h * h), rtol=1e-13)
    rnn.backward_step(h, dh_top, dh_rec, cont_rec, mine)
    same(mine, dpre)


def test_lstm_unit_forward_matches_caffes_step_and_the_numpy_step():
    rng = np.random.default_rng(1)
    pre, h_prev, c_prev, w, cont = step_inputs(rng, 16, 4, np.float64)
    gates, c, tanh_c, h = run_lstm_forward(pre, h_prev, c_prev, w, cont, np.float64)
    acts, c_ref, h_ref = lstm_oracle(pre, h_prev, c_prev, w, cont)
    np.testing.assert_allclose(gates, acts, rtol=1e-13)
    np.testing.assert_allclose(c, c_ref, rtol=1e-13)
    np.testing.assert_allclose(tanh_c, np.tanh(c_ref), rtol=1e-13)
    np.testing.assert_allclose(h, h_ref, rtol=1e-13)
    mine = [pre.copy()] + [np.zeros_like(c) for _ in range(3)]
    lstm.forward_step(mine[0], h_prev @ w.T, cont, c_prev, *mine[1:])
    same(mine[0], gates)
    for a, b in zip(mine[1:], (c, tanh_c, h)):
        same(a, b)


def test_lstm_unit_backward_matches_finite_differences_and_the_numpy_step():
    """dgates = dL/d(gate pre-activations) and dc_{t-1} = dL/dc_{t-1} for
    L = <dh, h_t> + <dc, c_t>, dh = dh_top + cont_rec dh_rec, by central differences."""
    rng = np.random.default_rng(2)
    H = 4
    pre, h_prev, c_prev, w, cont = step_inputs(rng, 4 * H, H, np.float64)
    gates, c, tanh_c, _ = run_lstm_forward(pre, h_prev, c_prev, w, cont, np.float64)
    dh_top, dh_rec, dc = (rng.standard_normal(c.shape) for _ in range(3))
    cont_rec = np.array([1.0, 0.0, 0.25])
    dh = dh_top + cont_rec[:, None] * dh_rec
    dc_out, dgates = dc.copy(), np.zeros_like(gates)
    cuda_host.launch("recurrent", "lstm_unit_backward", c.size,
                     (I(H), gates, c_prev, tanh_c, cont, dh_top, dh_rec, cont_rec, dc_out, dgates), dtype=np.float64)

    def loss(pre_, c_prev_):
        _, c_, h_ = lstm_oracle(pre_, h_prev, c_prev_, w, cont)
        return np.sum(dh * h_) + np.sum(dc * c_)

    def numeric(x, f, eps=1e-6):
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            up, down = x.copy(), x.copy()
            up[idx] += eps
            down[idx] -= eps
            grad[idx] = (f(up) - f(down)) / (2 * eps)
        return grad

    np.testing.assert_allclose(dgates, numeric(pre, lambda p: loss(p, c_prev)), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(dc_out, numeric(c_prev, lambda cp: loss(pre, cp)), rtol=1e-6, atol=1e-9)
    assert np.all(dc_out[0] == 0) and np.all(dgates[0, H:2 * H] == 0)   # cont 0 cuts c_{t-1} off
    mine_dc, mine = dc.copy(), np.zeros_like(dgates)
    lstm.backward_step(gates, c_prev, tanh_c, cont, dh_top, dh_rec, cont_rec, mine_dc, mine)
    same(mine, dgates)
    same(mine_dc, dc_out)


@pytest.mark.parametrize("grid,block", [(1, 1), (2, 3), (5, 7)])
def test_float32_build_any_launch(grid, block):
    rng = np.random.default_rng(3)
    H = 7
    pre, h_prev, c_prev, w, cont = step_inputs(rng, 4 * H, H, np.float32)
    gates, c, _, h = run_lstm_forward(pre, h_prev, c_prev, w, cont, np.float32, grid, block)
    acts, c_ref, h_ref = lstm_oracle(*(a.astype(np.float64) for a in (pre, h_prev, c_prev, w, cont)))
    for got, want in ((gates, acts), (c, c_ref), (h, h_ref)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    h_rnn = np.zeros_like(h)
    cuda_host.launch("recurrent", "rnn_step_forward", h.size, (I(H), pre[:, :H].copy(), h_prev, cont, h_rnn),
                     dtype=np.float32, grid=grid, block=block)
    np.testing.assert_allclose(h_rnn, np.tanh(pre[:, :H] + cont[:, None] * h_prev), rtol=1e-5, atol=1e-6)


# ---- the layers through the emulated GPU path ----------------------------------------------------
W = 'weight_filler { type: "uniform" min: -0.6 max: 0.6 } bias_filler { type: "uniform" min: -0.4 max: 0.4 }'
T, N, D = 4, 3, 2


def build(typ):
    backend.set_random_seed(5)
    bottom = [Blob((T, N, D), dtype=np.float64, name="x"), Blob((T, N), dtype=np.float64, name="cont")]
    top = [Blob(dtype=np.float64, name="y")]
    layer = make_layer(f'type: "{typ}" recurrent_param {{ num_output: 3 {W} }}')
    layer.layer_setup(bottom, top)
    return layer, bottom, top


def run_sequence(typ, gpu, backward_on_cpu=False):
    """Forwards of 3 batches (the 2nd continues the 1st), reset, the 2nd batch again; then
    backward (after a switch to CPU mode with ``backward_on_cpu``)."""
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal((T, N, D)) for _ in range(3)]
    conts = [np.ones((T, N)) for _ in range(3)]
    conts[0][0] = 0
    conts[1][2, 1] = 0           # cuts in the middle of the 2nd and 3rd batch
    conts[2][1, 0] = 0
    with emulated_gpu() if gpu else contextlib.nullcontext():
        layer, bottom, top = build(typ)
        outs = []
        for k, (x, cont) in enumerate(zip(xs + xs[1:2], conts + conts[1:2])):
            if k == 3:
                layer.reset()
            bottom[0].data[...] = x
            bottom[1].data[...] = cont
            layer.forward(bottom, top)
            outs.append(top[0].data.copy())
        top[0].diff[...] = rng.standard_normal(top[0].shape)
        if backward_on_cpu:
            backend.set_mode_cpu()
        layer.backward(top, [True, False], bottom)
        return outs, bottom[0].diff.copy(), [b.diff.copy() for b in layer.blobs]


@pytest.mark.parametrize("backward_on_cpu", [False, True], ids=["gpu_backward", "cpu_backward"])
@pytest.mark.parametrize("typ", ["RNN", "LSTM"])
def test_layers_on_the_emulated_gpu_carry_state_like_the_cpu(typ, backward_on_cpu):
    cpu_outs, cpu_dx, cpu_dparams = run_sequence(typ, gpu=False)
    gpu_outs, gpu_dx, gpu_dparams = run_sequence(typ, gpu=True, backward_on_cpu=backward_on_cpu)
    assert not np.allclose(cpu_outs[1], cpu_outs[3])   # the carried state matters
    for got, want in zip(gpu_outs + [gpu_dx] + gpu_dparams, cpu_outs + [cpu_dx] + cpu_dparams):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("typ", ["RNN", "LSTM"])
def test_state_carried_from_a_cpu_forward_into_a_gpu_forward(typ):
    rng = np.random.default_rng(8)
    x1, x2 = rng.standard_normal((T, N, D)), rng.standard_normal((T, N, D))
    layer, bottom, top = build(typ)
    bottom[1].data[...] = 1
    bottom[0].data[...] = x1
    layer.forward(bottom, top)
    bottom[0].data[...] = x2
    layer.forward(bottom, top)
    expected = top[0].data.copy()
    with emulated_gpu():
        layer, bottom, top = build(typ)
        bottom[1].data[...] = 1
        bottom[0].data[...] = x1
        backend.set_mode_cpu()
        layer.forward(bottom, top)
        backend.set_mode_gpu()
        bottom[0].data[...] = x2
        layer.forward(bottom, top)
        np.testing.assert_allclose(top[0].data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("typ", ["RNN", "LSTM"])
def test_forward_backward_on_the_device_move_no_data_and_launch_one_kernel_per_step(typ):
    with emulated_gpu() as fake:
        layer, bottom, top = build(typ)
        bottom[0].data[...] = np.random.default_rng(9).standard_normal((T, N, D))
        bottom[1].data[...] = 1
        layer.forward(bottom, top)            # uploads x, cont and the params once
        top[0].gpu_diff[...] = 1
        fake.stats.update(h2d=0, d2h=0, launches=0)
        layer.forward(bottom, top)
        assert fake.stats["launches"] == T
        layer.backward(top, [True, False], bottom)
        assert fake.stats["launches"] == 2 * T
        assert fake.stats["h2d"] == 0 and fake.stats["d2h"] == 0
