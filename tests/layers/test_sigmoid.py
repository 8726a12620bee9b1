"""Sigmoid: forward vs torch, gradients (finite differences and autograd), in place."""
import numpy as np
import pytest
import torch

from neuron_checks import (check_backward_vs_torch, check_extreme_inputs, check_forward_vs_torch,
                           check_neuron_gradient, check_propagate_down_false_leaves_bottom_diff)

RNG = np.random.default_rng(11)
TEXT = 'type: "Sigmoid"'


def test_forward_matches_torch_float32():
    x = (RNG.standard_normal((2, 3, 4, 5)) * 4).astype(np.float32)
    check_forward_vs_torch(TEXT, x, torch.sigmoid, rtol=1e-6, atol=1e-7)


def test_extreme_inputs_saturate_without_overflow():
    check_extreme_inputs(TEXT, [0.0, 0.0, 0.5, 1.0, 1.0])


def test_gradient():
    check_neuron_gradient(TEXT, RNG.standard_normal((2, 3, 2, 2)), inplace=False)


def test_in_place_gradient():
    check_neuron_gradient(TEXT, RNG.standard_normal((2, 3, 2, 2)), inplace=True)


@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(inplace):
    x = RNG.standard_normal((3, 4)) * 3
    dy = RNG.standard_normal(x.shape)
    check_backward_vs_torch(TEXT, x, dy, torch.sigmoid, inplace, rtol=1e-10, atol=1e-14)


def test_propagate_down_false_leaves_bottom_diff():
    check_propagate_down_false_leaves_bottom_diff(TEXT, RNG.standard_normal((3, 3)))
