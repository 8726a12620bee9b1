"""ELU: forward vs torch, gradients (finite differences and autograd), in place."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.testing.layer_helpers import run_layer
from neuron_checks import check_neuron_gradient, forward_backward, forward_float32, torch_input_grad

RNG = np.random.default_rng(16)


def elu_text(alpha):
    return f'type: "ELU" elu_param {{ alpha: {alpha} }}'


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.5])
def test_forward_matches_torch(alpha):
    x = (RNG.standard_normal((2, 3, 4, 5)) * 2).astype(np.float32)
    y = forward_float32(elu_text(alpha), x)
    np.testing.assert_allclose(y, F.elu(torch.from_numpy(x), alpha).numpy(), rtol=1e-6, atol=1e-7)


def test_default_alpha_is_one():
    x = RNG.standard_normal((3, 4))
    _, _, top = run_layer('type: "ELU"', [x])
    np.testing.assert_allclose(top[0].data, np.where(x > 0, x, np.exp(x) - 1), rtol=1e-12)


@pytest.mark.parametrize("alpha", [1.0, 0.0, -0.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(alpha, inplace):
    x = RNG.standard_normal((2, 3, 2, 2))
    check_neuron_gradient(elu_text(alpha), x, inplace, kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("alpha", [1.0, 0.25, -0.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(alpha, inplace):
    x = RNG.standard_normal((4, 5))
    dy = RNG.standard_normal(x.shape)
    _, dx = forward_backward(elu_text(alpha), x, dy, inplace)
    # torch's elu gradient for x <= 0 is alpha * exp(x), Caffe's (alpha + y): the same value
    np.testing.assert_allclose(dx, torch_input_grad(lambda t: F.elu(t, alpha), x, dy), rtol=1e-10, atol=1e-14)
