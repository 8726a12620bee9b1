"""Checks shared by the element-wise (neuron) layer tests: gradients out of place and in place,
backward against torch autograd, and propagate_down false."""
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
