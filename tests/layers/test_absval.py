"""AbsVal: forward vs torch, gradients (finite differences and autograd), in place via a copy."""
import numpy as np
import pytest
import torch

from neuron_checks import (check_neuron_gradient, check_propagate_down_false_leaves_bottom_diff,
                           forward_backward, forward_float32, torch_input_grad)

RNG = np.random.default_rng(13)
TEXT = 'type: "AbsVal"'


def test_forward_matches_torch():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    y = forward_float32(TEXT, x)
    np.testing.assert_array_equal(y, torch.abs(torch.from_numpy(x)).numpy())


def test_gradient():
    check_neuron_gradient(TEXT, RNG.standard_normal((2, 3, 4)), inplace=False, kink=0.0, kink_range=0.01)


def test_in_place_gradient():
    check_neuron_gradient(TEXT, RNG.standard_normal((2, 3, 4)), inplace=True, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd_and_sign_at_zero(inplace):
    x = RNG.standard_normal((3, 4))
    x[0, 0] = 0.0  # Caffe's sign(0) = 0, as torch's abs gradient
    dy = RNG.standard_normal(x.shape)
    _, dx = forward_backward(TEXT, x, dy, inplace)
    np.testing.assert_array_equal(dx, torch_input_grad(torch.abs, x, dy))
    assert dx[0, 0] == 0.0


def test_propagate_down_false_leaves_bottom_diff():
    check_propagate_down_false_leaves_bottom_diff(TEXT, RNG.standard_normal((3, 3)))
