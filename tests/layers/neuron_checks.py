"""Checks shared by the element-wise (neuron) layer tests: gradients out of place and in place,
forward and backward against a torch oracle, saturation at extreme inputs, and propagate_down
false.  Each test passes its own oracle (a torch function of a tensor), so none of them
depends on the layer code it tests."""
import numpy as np
import torch

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer


def check_neuron_gradient(text, x, inplace, **kwargs):
    """Finite-difference check of one neuron layer on x, with top == bottom when inplace."""
    layer = make_layer(text)
    if inplace:
        b = blob_from(x)
        check_gradient(layer, [b], [b], **kwargs)
    else:
        check_gradient(layer, blobs_from(x), empty_tops(1), **kwargs)


def forward_backward(text, x, dy, inplace):
    """Forward then backward one neuron layer on x with top diff dy (top == bottom when inplace).

    Returns (a copy of the top data after forward, the bottom diff after backward)."""
    layer = make_layer(text)
    b = blob_from(x)
    t = b if inplace else empty_tops(1)[0]
    layer.layer_setup([b], [t])
    layer.forward([b], [t])
    y = t.data.copy()
    t.diff[...] = dy
    layer.backward([t], [True], [b])
    return y, b.diff


def torch_input_grad(fn, x, dy):
    """d(sum(dy * fn(x)))/dx by torch autograd, fn mapping a tensor to a tensor."""
    xt = torch.from_numpy(x).requires_grad_()
    fn(xt).backward(torch.from_numpy(dy))
    return xt.grad.numpy()


def check_propagate_down_false_leaves_bottom_diff(text, x):
    """backward with propagate_down [False] must not write the bottom diff."""
    layer, bottom, top = run_layer(text, [x])
    bottom[0].diff[...] = 7.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0)


def forward_float32(text, x):
    """The layer's top data for a float32 bottom x; the top keeps x's shape and float32."""
    _, _, top = run_layer(text, [x], dtype=np.float32)
    assert top[0].shape == x.shape and top[0].dtype == np.float32
    return top[0].data


def check_forward_vs_torch(text, x, oracle, **tolerance):
    """Top data for the float32 bottom x against ``oracle(torch.from_numpy(x))`` (the oracle
    picks its own precision)."""
    y = forward_float32(text, x)
    np.testing.assert_allclose(y, oracle(torch.from_numpy(x)).numpy(), **tolerance)


def check_backward_vs_torch(text, x, dy, oracle, inplace, **tolerance):
    """Bottom diff for top diff dy against torch autograd of ``oracle`` (top == bottom when inplace)."""
    _, dx = forward_backward(text, x, dy, inplace)
    np.testing.assert_allclose(dx, torch_input_grad(oracle, x, dy), **tolerance)


def check_extreme_inputs(text, expected):
    """float32 inputs -1e4, -100, 0, 100, 1e4 give ``expected`` (saturated, no overflow)."""
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32)
    np.testing.assert_allclose(forward_float32(text, x), expected, atol=1e-30)
