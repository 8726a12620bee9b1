"""LSTM: shapes and Caffe's param layout, forward/backward vs torch.nn.LSTM (gate order
i,f,o,g vs torch's i,f,g,o), a numpy transcription of Caffe's LSTMUnit recurrence for cont
resets, static input and expose_hidden, carried state, float64 gradient checks, bad
parameters, and a tiny Input -> LSTM -> InnerProduct -> EuclideanLoss net that learns."""
import logging

import numpy as np
import pytest
import torch

from caffeine import TEST, TRAIN, backend
from caffeine.errors import ConfigError, ShapeError
from caffeine.net import Net
from caffeine.proto import io as proto_io
from caffeine.testing.gradient_check import check_gradient
from recurrent_checks import (check_gradient_nonzero_cont,
                              check_gradient_with_static_input_and_mid_sequence_resets,
                              check_state_carries_across_forwards, first_step_cont, setup)

FILLERS = ('weight_filler { type: "uniform" min: -0.6 max: 0.6 } '
           'bias_filler { type: "uniform" min: -0.4 max: 0.4 }')
RNG = np.random.default_rng(1337)


def lstm_text(params="num_output: 3", fillers=FILLERS):
    return f'name: "lstm" type: "LSTM" recurrent_param {{ {params} {fillers} }}'


def sig(v):
    return 1 / (1 + np.exp(-v))


def numpy_lstm(params, x, cont, x_static=None, h0=None, c0=None):
    """Caffe's unrolled LSTM: Scale(h, cont) -> InnerProduct W_hc -> Eltwise sum -> LSTMUnit."""
    T, N = cont.shape
    w_xc, b_c = params[0], params[1]
    w_static = params[2] if x_static is not None else None
    w_hc = params[-1]
    H = w_hc.shape[1]
    h = np.zeros((N, H)) if h0 is None else h0.reshape(N, H)
    c = np.zeros((N, H)) if c0 is None else c0.reshape(N, H)
    outs = []
    for t in range(T):
        gate = (cont[t][:, None] * h) @ w_hc.T + x[t].reshape(N, -1) @ w_xc.T + b_c
        if x_static is not None:
            gate = gate + x_static.reshape(N, -1) @ w_static.T
        i, f, o, g = sig(gate[:, :H]), sig(gate[:, H:2 * H]), sig(gate[:, 2 * H:3 * H]), np.tanh(gate[:, 3 * H:])
        c = cont[t][:, None] * f * c + i * g
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs), h, c


def caffe_to_torch_gates(w, H):
    """Caffe stacks gates i,f,o,g; torch stacks i,f,g,o."""
    return np.concatenate([w[:2 * H], w[3 * H:], w[2 * H:3 * H]], axis=0)


def test_shapes_and_param_layout():
    x, cont = RNG.standard_normal((3, 2, 3, 2)), first_step_cont(3, 2)
    layer, _, top = setup(lstm_text("num_output: 7"), [x, cont])
    assert top[0].shape == (3, 2, 7)
    assert [b.shape for b in layer.blobs] == [(28, 6), (28,), (28, 7)]
    assert [b.name for b in layer.blobs] == ["W_xc", "b_c", "W_hc"]
    xs = RNG.standard_normal((2, 2, 3, 4))
    layer, _, top = setup(lstm_text("num_output: 7 expose_hidden: true"),
                          [x, cont, xs, np.zeros((1, 2, 7)), np.zeros((1, 2, 7))], n_top=3)
    assert [b.name for b in layer.blobs] == ["W_xc", "b_c", "W_xc_static", "W_hc"]
    assert layer.blobs[2].shape == (28, 24)
    assert [t.shape for t in top] == [(3, 2, 7), (1, 2, 7), (1, 2, 7)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_match_torch(dtype):
    T, N, H, D = 5, 3, 4, 6
    x, cont = RNG.standard_normal((T, N, 3, 2)), first_step_cont(T, N)
    layer, bottom, top = setup(lstm_text(f"num_output: {H}"), [x, cont], dtype=dtype)
    layer.forward(bottom, top)
    assert top[0].data.dtype == dtype
    w_xc, b_c, w_hc = (b.data for b in layer.blobs)
    lstm = torch.nn.LSTM(D, H).to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(caffe_to_torch_gates(w_xc, H)))
        lstm.bias_ih_l0.copy_(torch.from_numpy(caffe_to_torch_gates(b_c, H)))
        lstm.weight_hh_l0.copy_(torch.from_numpy(caffe_to_torch_gates(w_hc, H)))
        lstm.bias_hh_l0.zero_()
    xt = torch.from_numpy(x.reshape(T, N, D).astype(dtype)).requires_grad_()
    hs, _ = lstm(xt)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(top[0].data, hs.detach().numpy(), **tol)

    dy = RNG.standard_normal(hs.shape).astype(dtype)
    hs.backward(torch.from_numpy(dy))
    top[0].diff[...] = dy
    layer.backward(top, [True, False], bottom)
    np.testing.assert_allclose(bottom[0].diff.reshape(T, N, D), xt.grad.numpy(), **tol)
    for blob, grad in zip(layer.blobs, [lstm.weight_ih_l0.grad, lstm.bias_ih_l0.grad, lstm.weight_hh_l0.grad]):
        np.testing.assert_allclose(caffe_to_torch_gates(blob.diff, H), grad.numpy(), **tol)


def test_cont_resets_static_input_and_exposed_hidden_match_numpy():
    T, N, H = 4, 3, 3
    x, xs = RNG.standard_normal((T, N, 2)), RNG.standard_normal((N, 5))
    cont = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=float)
    h0, c0 = RNG.standard_normal((1, N, H)), RNG.standard_normal((1, N, H))
    layer, bottom, top = setup(lstm_text(f"num_output: {H} expose_hidden: true"),
                               [x, cont, xs, h0, c0], n_top=3)
    layer.forward(bottom, top)
    ref, h_T, c_T = numpy_lstm([b.data for b in layer.blobs], x, cont, xs, h0, c0)
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)
    np.testing.assert_allclose(top[1].data, h_T[None], rtol=1e-12)
    np.testing.assert_allclose(top[2].data, c_T[None], rtol=1e-12)


def test_state_carries_across_forwards_like_caffe():
    """Caffe's TestForward: one batch of T steps == T single-step forwards with state carried
    (both h and c); with cont = 0 on every step only the first step agrees."""
    check_state_carries_across_forwards(lstm_text("num_output: 7"), RNG.standard_normal((3, 3, 3, 2)))


def test_gradient_nonzero_cont():
    check_gradient_nonzero_cont(lstm_text("num_output: 3"), RNG)


def test_gradient_with_static_input_and_mid_sequence_resets():
    check_gradient_with_static_input_and_mid_sequence_resets(lstm_text("num_output: 3"), RNG)


def test_gradient_exposed_hidden_h0_c0_and_final_state_tops():
    x, xs = RNG.uniform(-1, 1, (3, 2, 4)), RNG.uniform(-1, 1, (2, 3))
    cont = np.array([[1, 0], [1, 1], [0.5, 1]], dtype=float)   # fractional cont scales h and c
    h0, c0 = RNG.uniform(-1, 1, (1, 2, 3)), RNG.uniform(-1, 1, (1, 2, 3))
    layer, bottom, top = setup(lstm_text("num_output: 3 expose_hidden: true"),
                               [x, cont, xs, h0, c0], n_top=3)
    check_gradient(layer, bottom, top, check_bottom=[0, 2, 3, 4])


def test_propagate_down_subset_and_accumulation():
    x, h0, c0 = RNG.uniform(-1, 1, (3, 2, 3)), RNG.uniform(-1, 1, (1, 2, 3)), RNG.uniform(-1, 1, (1, 2, 3))
    layer, bottom, top = setup(lstm_text("num_output: 3 expose_hidden: true"),
                               [x, np.ones((3, 2)), h0, c0], n_top=3)
    check_gradient(layer, bottom, top, check_bottom=[3])       # only c_0
    layer.forward(bottom, top)
    for t in top:
        t.diff[...] = RNG.standard_normal(t.shape)
    for b in layer.blobs:
        b.diff[...] = 0
    bottom[0].diff[...] = 7.0
    layer.backward(top, [False, False, True, True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, 7.0)
    once = [b.diff.copy() for b in layer.blobs]
    h0_diff = bottom[2].diff.copy()
    layer.backward(top, [False, False, True, True], bottom)
    for b, d in zip(layer.blobs, once):
        np.testing.assert_allclose(b.diff, 2 * d)
    np.testing.assert_allclose(bottom[2].diff, h0_diff)


def test_no_gradient_to_cont():
    layer, bottom, top = setup(lstm_text(), [RNG.standard_normal((2, 2, 3)), first_step_cont(2, 2)])
    assert not layer.allow_force_backward(1)
    layer.forward(bottom, top)
    with pytest.raises(ConfigError, match="layer 'lstm'.*sequence indicators"):
        layer.backward(top, [True, True], bottom)


@pytest.mark.parametrize("params, arrays, n_top, error, match", [
    ("num_output: 3", [np.zeros((2, 2, 3))], 1, ConfigError, "wrong number of bottom"),
    ("num_output: 3 expose_hidden: true", [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((1, 2, 3))], 3,
     ConfigError, "wrong number of bottom.*h_0 c_0"),
    ("num_output: 3 expose_hidden: true",
     [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((1, 2, 3)), np.zeros((1, 2, 3))], 2,
     ConfigError, "wrong number of top.*h_T c_T"),
    ("num_output: 3", [np.zeros((2, 2, 3)), np.zeros((3, 2))], 1, ShapeError, "cont"),
    ("num_output: 3", [np.zeros((2, 2, 3)), np.zeros((2, 2, 1))], 1, ShapeError, "cont"),
    ("num_output: 3 expose_hidden: true",
     [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((1, 2, 3)), np.zeros((2, 3))], 3,
     ShapeError, "c_0"),
    ("num_output: 0", [np.zeros((2, 2, 3)), np.zeros((2, 2))], 1, ConfigError, "num_output must be positive"),
])
def test_bad_params(params, arrays, n_top, error, match):
    with pytest.raises(error, match="layer 'lstm' \\(LSTM\\).*" + match):
        setup(lstm_text(params), arrays, n_top=n_top)


def test_debug_info_logs_internal_states(caplog):
    layer, bottom, top = setup(lstm_text("num_output: 2 debug_info: true"),
                               [RNG.standard_normal((2, 1, 3)), first_step_cont(2, 1)])
    with caplog.at_level(logging.INFO, logger="caffeine"):
        layer.forward(bottom, top)
        top[0].diff[...] = 1
        layer.backward(top, [True, False], bottom)
    text = caplog.text
    assert "[Forward] Layer lstm, h_2" in text and "[Backward] Layer lstm, gate_input diff_1" in text


NET = '''
name: "seq"
layer { name: "data" type: "Input" top: "x" top: "cont" top: "target"
        input_param { shape { dim: 6 dim: 4 dim: 3 } shape { dim: 6 dim: 4 } shape { dim: 6 dim: 4 dim: 1 } } }
layer { name: "lstm" type: "LSTM" bottom: "x" bottom: "cont" top: "h"
        recurrent_param { num_output: 5 weight_filler { type: "uniform" min: -0.3 max: 0.3 }
                          bias_filler { type: "constant" value: 0 } } }
layer { name: "ip" type: "InnerProduct" bottom: "h" top: "y"
        inner_product_param { num_output: 1 axis: 2 weight_filler { type: "gaussian" std: 0.3 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "target" top: "loss" }
'''


def test_tiny_net_learns_with_sgd(tmp_path):
    backend.set_random_seed(5)
    net = Net(proto_io.parse_net_text(NET), phase=TRAIN)
    assert [p.shape for p in net.params["lstm"]] == [(20, 3), (20,), (20, 5)]
    rng = np.random.default_rng(9)
    x = rng.uniform(-1, 1, (6, 4, 3))
    target = np.cumsum(x[..., :1], axis=0) * 0.3               # needs memory of earlier steps
    net.blobs["x"].data[...] = x
    net.blobs["cont"].data[...] = first_step_cont(6, 4)
    net.blobs["target"].data[...] = target
    losses = []
    for _ in range(30):
        net.clear_param_diffs()
        losses.append(net.forward_backward())
        for p in net.learnable_params:
            p.data[...] -= 0.2 * p.diff
    assert losses[-1] < 0.5 * losses[0]
    assert all(np.isfinite(losses))
    # the trained weights round-trip through a caffemodel in Caffe's blob order
    path = str(tmp_path / "seq.caffemodel")
    net.save(path)
    out = net.forward()["loss"]
    again = Net(proto_io.parse_net_text(NET), phase=TEST, weights=path)
    for name in ("x", "cont", "target"):
        again.blobs[name].data[...] = net.blobs[name].data
    assert again.forward()["loss"] == pytest.approx(float(out), rel=1e-6)
