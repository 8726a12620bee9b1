"""ReLU / leaky ReLU: forward vs torch, gradients (finite differences and autograd), in place."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(7)


def relu_text(slope):
    return f'type: "ReLU" relu_param {{ negative_slope: {slope} }}'


def torch_grad(x, dy, slope):
    t = torch.from_numpy(x).requires_grad_()
    F.leaky_relu(t, slope).backward(torch.from_numpy(dy))
    return t.grad.numpy()


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_forward_matches_torch(slope):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    _, _, top = run_layer(relu_text(slope), [x], dtype=np.float32)
    assert top[0].shape == x.shape and top[0].dtype == np.float32
    np.testing.assert_allclose(top[0].data, F.leaky_relu(torch.from_numpy(x), slope).numpy(), rtol=1e-6)


def test_default_is_plain_relu():
    x = RNG.standard_normal((3, 4))
    _, _, top = run_layer('type: "ReLU"', [x])
    np.testing.assert_array_equal(top[0].data, np.maximum(x, 0))


@pytest.mark.parametrize("slope", [0.0, 0.3, -0.5])
def test_gradient(slope):
    x = RNG.standard_normal((2, 3, 3, 2))
    layer = make_layer(relu_text(slope))
    check_gradient(layer, blobs_from(x), empty_tops(1), kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("slope", [0.0, 0.3, -0.5])
def test_in_place_gradient(slope):
    x = RNG.standard_normal((2, 3, 3, 2))
    layer = make_layer(relu_text(slope))
    b = blob_from(x)
    check_gradient(layer, [b], [b], kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("slope", [0.0, 0.25, -0.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(slope, inplace):
    x = RNG.standard_normal((4, 5))
    dy = RNG.standard_normal(x.shape)
    layer = make_layer(relu_text(slope))
    b = blob_from(x)
    t = b if inplace else empty_tops(1)[0]
    layer.layer_setup([b], [t])
    layer.forward([b], [t])
    np.testing.assert_allclose(t.data, F.leaky_relu(torch.from_numpy(x), slope).numpy())
    t.diff[...] = dy
    layer.backward([t], [True], [b])
    np.testing.assert_allclose(b.diff, torch_grad(x, dy, slope), rtol=1e-12)


def test_propagate_down_false_leaves_bottom_diff():
    layer, bottom, top = run_layer('type: "ReLU"', [RNG.standard_normal((3, 3))])
    bottom[0].diff[...] = 7.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0)
