"""RNN: shapes and Caffe's param layout, forward/backward vs torch.nn.RNN, a numpy
transcription of Caffe's unrolled net for cont resets, static input and expose_hidden,
carried state across forwards, float64 gradient checks, bad parameters."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError, ShapeError
from caffeine.testing.gradient_check import check_gradient
from recurrent_checks import (check_gradient_nonzero_cont,
                              check_gradient_with_static_input_and_mid_sequence_resets,
                              check_state_carries_across_forwards, first_step_cont, setup)

FILLERS = ('weight_filler { type: "uniform" min: -0.6 max: 0.6 } '
           'bias_filler { type: "uniform" min: -0.3 max: 0.3 }')


def rnn_text(params="num_output: 3", fillers=FILLERS):
    return f'name: "rnn" type: "RNN" recurrent_param {{ {params} {fillers} }}'


def numpy_rnn(params, x, cont, x_static=None, h0=None):
    """Caffe's unrolled RNN net, step by step (rnn_layer.cpp FillUnrolledNet)."""
    T, N = cont.shape
    w_xh, b_h = params[0], params[1]
    rest = params[2:]
    w_static = None
    if x_static is not None:
        w_static, rest = rest[0], rest[1:]
    w_hh, w_ho, b_o = rest
    H = b_h.shape[0]
    h = np.zeros((N, H)) if h0 is None else h0.reshape(N, H)
    outs = []
    for t in range(T):
        h_conted = cont[t][:, None] * h
        a = h_conted @ w_hh.T + x[t].reshape(N, -1) @ w_xh.T + b_h
        if x_static is not None:
            a = a + x_static.reshape(N, -1) @ w_static.T
        h = np.tanh(a)
        outs.append(np.tanh(h @ w_ho.T + b_o))
    return np.stack(outs), h


RNG = np.random.default_rng(2024)


def test_shapes_and_param_layout():
    x, cont = RNG.standard_normal((4, 2, 3, 2)), first_step_cont(4, 2)
    layer, _, top = setup(rnn_text("num_output: 5"), [x, cont])
    assert top[0].shape == (4, 2, 5)
    assert [b.shape for b in layer.blobs] == [(5, 6), (5,), (5, 5), (5, 5), (5,)]
    assert [b.name for b in layer.blobs] == ["W_xh", "b_h", "W_hh", "W_ho", "b_o"]
    xs = RNG.standard_normal((2, 2, 3, 4))
    layer, _, top = setup(rnn_text("num_output: 5 expose_hidden: true"),
                          [x, cont, xs, np.zeros((1, 2, 5))], n_top=2)
    assert [b.name for b in layer.blobs] == ["W_xh", "b_h", "W_xh_static", "W_hh", "W_ho", "b_o"]
    assert layer.blobs[2].shape == (5, 24)
    assert top[0].shape == (4, 2, 5) and top[1].shape == (1, 2, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_match_torch(dtype):
    T, N, H = 5, 3, 4
    x, cont = RNG.standard_normal((T, N, 3, 2)), first_step_cont(T, N)
    layer, bottom, top = setup(rnn_text(f"num_output: {H}"), [x, cont], dtype=dtype)
    layer.forward(bottom, top)
    assert top[0].data.dtype == dtype
    w_xh, b_h, w_hh, w_ho, b_o = (torch.from_numpy(b.data.copy()).requires_grad_() for b in layer.blobs)
    rnn = torch.nn.RNN(6, H, nonlinearity="tanh").to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(w_xh)
        rnn.bias_ih_l0.copy_(b_h)
        rnn.weight_hh_l0.copy_(w_hh)
        rnn.bias_hh_l0.zero_()
    xt = torch.from_numpy(x.reshape(T, N, 6).astype(dtype)).requires_grad_()
    hs, _ = rnn(xt)
    o = torch.tanh(hs @ w_ho.T + b_o)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(top[0].data, o.detach().numpy(), **tol)

    dy = RNG.standard_normal(o.shape).astype(dtype)
    o.backward(torch.from_numpy(dy))
    top[0].diff[...] = dy
    layer.backward(top, [True, False], bottom)
    np.testing.assert_allclose(bottom[0].diff.reshape(T, N, 6), xt.grad.numpy(), **tol)
    expected = [rnn.weight_ih_l0.grad, rnn.bias_ih_l0.grad, rnn.weight_hh_l0.grad, w_ho.grad, b_o.grad]
    for blob, grad in zip(layer.blobs, expected):
        np.testing.assert_allclose(blob.diff, grad.numpy(), **tol)


def test_cont_resets_static_input_and_exposed_hidden_match_numpy():
    T, N, H = 4, 3, 3
    x, xs = RNG.standard_normal((T, N, 2)), RNG.standard_normal((N, 2, 2))
    cont = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=float)
    h0 = RNG.standard_normal((1, N, H))
    layer, bottom, top = setup(rnn_text(f"num_output: {H} expose_hidden: true"), [x, cont, xs, h0], n_top=2)
    layer.forward(bottom, top)
    ref, h_T = numpy_rnn([b.data for b in layer.blobs], x, cont, xs, h0)
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)
    np.testing.assert_allclose(top[1].data, h_T[None], rtol=1e-12)
    # the first stream continues from h_0 at t = 0 only where cont says so; a fractional cont scales h
    cont[0, 0] = 0.5
    bottom[1].data[...] = cont
    layer.forward(bottom, top)
    ref, _ = numpy_rnn([b.data for b in layer.blobs], x, cont, xs, h0)
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-12)


def test_state_carries_across_forwards_like_caffe():
    """Caffe's TestForward: T steps in one batch == one step per forward with state carried;
    cont = 0 on every step gives a different result after the first step."""
    check_state_carries_across_forwards(rnn_text("num_output: 7"), RNG.standard_normal((3, 3, 3, 2)))


def test_gradient_nonzero_cont():
    check_gradient_nonzero_cont(rnn_text("num_output: 4"), RNG)


def test_gradient_with_static_input_and_mid_sequence_resets():
    check_gradient_with_static_input_and_mid_sequence_resets(rnn_text("num_output: 3"), RNG)


def test_gradient_exposed_hidden_h0_and_hT():
    x, xs = RNG.uniform(-1, 1, (3, 2, 3)), RNG.uniform(-1, 1, (2, 3))
    cont = np.array([[1, 0], [1, 1], [0, 1]], dtype=float)
    h0 = RNG.uniform(-1, 1, (1, 2, 4))
    layer, bottom, top = setup(rnn_text("num_output: 4 expose_hidden: true"), [x, cont, xs, h0], n_top=2)
    check_gradient(layer, bottom, top, check_bottom=[0, 2, 3])


def test_propagate_down_subset_and_accumulation():
    x, xs = RNG.uniform(-1, 1, (3, 2, 3)), RNG.uniform(-1, 1, (2, 3))
    layer, bottom, top = setup(rnn_text("num_output: 3"), [x, first_step_cont(3, 2), xs])
    check_gradient(layer, bottom, top, check_bottom=[2])      # x's diff not needed
    bottom[0].diff[...] = 42.0
    layer.forward(bottom, top)
    top[0].diff[...] = RNG.standard_normal(top[0].shape)
    for b in layer.blobs:
        b.diff[...] = 0
    layer.backward(top, [False, False, True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, 42.0)        # untouched
    once = [b.diff.copy() for b in layer.blobs]
    xs_diff = bottom[2].diff.copy()
    layer.backward(top, [False, False, True], bottom)
    for b, d in zip(layer.blobs, once):
        np.testing.assert_allclose(b.diff, 2 * d)               # params accumulate
    np.testing.assert_allclose(bottom[2].diff, xs_diff)        # bottoms are overwritten


def test_no_gradient_to_cont():
    layer, bottom, top = setup(rnn_text(), [RNG.standard_normal((2, 2, 3)), first_step_cont(2, 2)])
    assert layer.allow_force_backward(0) and not layer.allow_force_backward(1)
    layer.forward(bottom, top)
    with pytest.raises(ConfigError, match="layer 'rnn'.*sequence indicators"):
        layer.backward(top, [True, True], bottom)


@pytest.mark.parametrize("params, arrays, n_top, error, match", [
    ("num_output: 3", [np.zeros((2, 2, 3))], 1, ConfigError, "wrong number of bottom"),
    ("num_output: 3", [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((2, 1)), np.zeros((2, 1))], 1,
     ConfigError, "wrong number of bottom"),
    ("num_output: 3 expose_hidden: true", [np.zeros((2, 2, 3)), np.zeros((2, 2))], 2,
     ConfigError, "wrong number of bottom"),
    ("num_output: 3 expose_hidden: true", [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((1, 2, 3))], 1,
     ConfigError, "wrong number of top"),
    ("num_output: 3", [np.zeros((2, 2, 3)), np.zeros((2, 3))], 1, ShapeError, "cont.*expected \\(2, 2\\)"),
    ("num_output: 3", [np.zeros((2, 2, 3)), np.zeros((4,))], 1, ShapeError, "cont"),
    ("num_output: 3", [np.zeros((4,)), np.zeros((4, 1))], 1, ShapeError, "at least 2 axes"),
    ("num_output: 3", [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((3, 2))], 1, ShapeError, "x_static"),
    ("num_output: 3 expose_hidden: true", [np.zeros((2, 2, 3)), np.zeros((2, 2)), np.zeros((1, 2, 4))], 2,
     ShapeError, "h_0.*expected \\(1, 2, 3\\)"),
    ("", [np.zeros((2, 2, 3)), np.zeros((2, 2))], 1, ConfigError, "num_output must be positive"),
])
def test_bad_params(params, arrays, n_top, error, match):
    with pytest.raises(error, match="layer 'rnn' \\(RNN\\).*" + match):
        setup(rnn_text(params), arrays, n_top=n_top)


def test_input_size_change_rejected_but_timesteps_and_streams_may_change():
    layer, bottom, top = setup(rnn_text(), [np.zeros((2, 2, 3)), np.zeros((2, 2))])
    bottom[0].reshape(5, 4, 3)
    bottom[1].reshape(5, 4)
    layer.forward(bottom, top)
    assert top[0].shape == (5, 4, 3)
    bottom[0].reshape(5, 4, 2)
    with pytest.raises(ShapeError, match="input size per timestep changed"):
        layer.forward(bottom, top)
