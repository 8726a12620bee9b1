"""Swish: y = x sigmoid(beta x) vs torch (silu for beta 1), gradients, in place."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neuron_checks import check_neuron_gradient, forward_backward, forward_float32, torch_input_grad

RNG = np.random.default_rng(20)


def swish_text(beta):
    return f'type: "Swish" swish_param {{ beta: {beta} }}'


def torch_swish(x, beta):
    return x * torch.sigmoid(beta * x)


def test_default_beta_is_silu():
    x = (RNG.standard_normal((2, 3, 4)) * 3).astype(np.float32)
    y = forward_float32('type: "Swish"', x)
    np.testing.assert_allclose(y, F.silu(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, -1.5])
def test_forward_matches_torch(beta):
    x = (RNG.standard_normal((2, 3, 4)) * 3).astype(np.float32)
    y = forward_float32(swish_text(beta), x)
    expected = torch_swish(torch.from_numpy(x).double(), beta).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0, -1.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(beta, inplace):
    x = RNG.standard_normal((2, 3, 2)) * 2
    check_neuron_gradient(swish_text(beta), x, inplace)


@pytest.mark.parametrize("beta", [1.0, 2.0, -1.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(beta, inplace):
    x = RNG.standard_normal((3, 4)) * 2
    dy = RNG.standard_normal(x.shape)
    _, dx = forward_backward(swish_text(beta), x, dy, inplace)
    np.testing.assert_allclose(dx, torch_input_grad(lambda t: torch_swish(t, beta), x, dy), rtol=1e-10, atol=1e-14)
