"""Helpers shared by the recurrent layer tests (RNN, LSTM): layer setup on float64 blobs,
the usual sequence-continuation indicators, and Caffe's TestForward state-carrying check."""
import numpy as np

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer


def setup(text, arrays, n_top=1, dtype=np.float64):
    layer = make_layer(text)
    bottom, top = blobs_from(*arrays, dtype=dtype), empty_tops(n_top, dtype=dtype)
    layer.layer_setup(bottom, top)
    return layer, bottom, top


def first_step_cont(T, N):
    """cont of shape (T, N): 0 at the first timestep (a new sequence), 1 after."""
    cont = np.ones((T, N))
    cont[0] = 0
    return cont


def check_state_carries_across_forwards(text, x):
    """Caffe's TestForward: one batch of T steps == T single-step forwards with the state
    carried; with cont = 0 on every step only the first step agrees."""
    T, N = x.shape[:2]
    full, bottom, top = setup(text, [x, first_step_cont(T, N)])
    full.forward(bottom, top)
    expected = top[0].data.copy()
    step, sb, st = setup(text, [x[:1], np.zeros((1, N))])
    for blob, src in zip(step.blobs, full.blobs):
        blob.data[...] = src.data
    for t in range(T):
        sb[0].data[...] = x[t:t + 1]
        sb[1].data[...] = float(t > 0)
        step.forward(sb, st)
        np.testing.assert_allclose(st[0].data[0], expected[t], rtol=1e-12)
    step.reset()
    for t in range(T):
        sb[0].data[...] = x[t:t + 1]
        sb[1].data[...] = 0
        step.forward(sb, st)
        assert np.allclose(st[0].data[0], expected[t]) == (t == 0)


def check_gradient_nonzero_cont(text, rng):
    """Caffe's TestGradientNonZeroCont: a (3, 2) batch whose second half continues."""
    x = rng.uniform(-1, 1, (3, 2, 3, 2))
    cont = (np.arange(6) > 2).reshape(3, 2).astype(float)
    layer, bottom, top = setup(text, [x, cont])
    check_gradient(layer, bottom, top, check_bottom=[0])


def check_gradient_with_static_input_and_mid_sequence_resets(text, rng):
    x, xs = rng.uniform(-1, 1, (3, 2, 3)), rng.uniform(-1, 1, (2, 4))
    cont = np.array([[0, 0], [1, 0], [0, 1]], dtype=float)
    layer, bottom, top = setup(text, [x, cont, xs])
    check_gradient(layer, bottom, top, check_bottom=[0, 2])
