"""BNLL (softplus): forward vs torch, stable for large |x|, gradients, in place."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.testing.layer_helpers import run_layer
from neuron_checks import check_neuron_gradient, forward_backward, forward_float32, torch_input_grad

RNG = np.random.default_rng(14)
TEXT = 'type: "BNLL"'


def test_forward_matches_torch_softplus():
    x = (RNG.standard_normal((2, 3, 4, 5)) * 5).astype(np.float32)
    y = forward_float32(TEXT, x)
    np.testing.assert_allclose(y, F.softplus(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-7)


def test_large_inputs_are_finite_and_match_caffe_formula():
    x = np.array([-500.0, -60.0, -1.0, 0.0, 1.0, 60.0, 500.0], dtype=np.float32)
    y = forward_float32(TEXT, x)
    xd = x.astype(np.float64)
    # Caffe: x > 0 ? x + log(1 + exp(-x)) : log(1 + exp(x))
    expected = np.where(xd > 0, xd + np.log1p(np.exp(-np.abs(xd))), np.log1p(np.exp(np.minimum(xd, 0))))
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-38)


def test_gradient_is_finite_for_large_inputs():
    layer, bottom, top = run_layer(TEXT, [np.array([-800.0, 800.0, 0.0])])
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, [0.0, 1.0, 0.5], atol=1e-300)


def test_gradient():
    check_neuron_gradient(TEXT, RNG.standard_normal((2, 3, 2, 2)) * 3, inplace=False)


def test_in_place_gradient():
    check_neuron_gradient(TEXT, RNG.standard_normal((2, 3, 2, 2)) * 3, inplace=True)


@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(inplace):
    x = RNG.standard_normal((3, 4)) * 4
    dy = RNG.standard_normal(x.shape)
    _, dx = forward_backward(TEXT, x, dy, inplace)
    np.testing.assert_allclose(dx, torch_input_grad(F.softplus, x, dy), rtol=1e-10)
