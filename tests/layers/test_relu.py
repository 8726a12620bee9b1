"""ReLU / leaky ReLU: forward vs torch, gradients (finite differences and autograd), in place."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.testing.layer_helpers import run_layer
from neuron_checks import (check_neuron_gradient, check_propagate_down_false_leaves_bottom_diff,
                           forward_backward, forward_float32, torch_input_grad)

RNG = np.random.default_rng(7)


def relu_text(slope):
    return f'type: "ReLU" relu_param {{ negative_slope: {slope} }}'


@pytest.mark.parametrize("slope", [0.0, 0.1])
def test_forward_matches_torch(slope):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = forward_float32(relu_text(slope), x)
    np.testing.assert_allclose(y, F.leaky_relu(torch.from_numpy(x), slope).numpy(), rtol=1e-6)


def test_default_is_plain_relu():
    x = RNG.standard_normal((3, 4))
    _, _, top = run_layer('type: "ReLU"', [x])
    np.testing.assert_array_equal(top[0].data, np.maximum(x, 0))


@pytest.mark.parametrize("slope", [0.0, 0.3, -0.5])
def test_gradient(slope):
    x = RNG.standard_normal((2, 3, 3, 2))
    check_neuron_gradient(relu_text(slope), x, inplace=False, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("slope", [0.0, 0.3, -0.5])
def test_in_place_gradient(slope):
    x = RNG.standard_normal((2, 3, 3, 2))
    check_neuron_gradient(relu_text(slope), x, inplace=True, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("slope", [0.0, 0.25, -0.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(slope, inplace):
    x = RNG.standard_normal((4, 5))
    dy = RNG.standard_normal(x.shape)
    y, dx = forward_backward(relu_text(slope), x, dy, inplace)
    np.testing.assert_allclose(y, F.leaky_relu(torch.from_numpy(x), slope).numpy())
    np.testing.assert_allclose(dx, torch_input_grad(lambda t: F.leaky_relu(t, slope), x, dy), rtol=1e-12)


def test_propagate_down_false_leaves_bottom_diff():
    check_propagate_down_false_leaves_bottom_diff('type: "ReLU"', RNG.standard_normal((3, 3)))
