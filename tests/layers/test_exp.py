"""Exp: y = base^(shift + scale x) vs torch (forward and autograd), gradients, in place, bad base."""
import math

import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import run_layer
from neuron_checks import check_neuron_gradient, forward_float32, torch_input_grad

RNG = np.random.default_rng(17)
CASES = [(-1.0, 1.0, 0.0), (-1.0, 0.5, 1.0), (2.0, 1.0, 0.0), (3.0, -0.75, 0.5), (0.5, 2.0, -1.0)]


def exp_text(base, scale, shift):
    return f'type: "Exp" exp_param {{ base: {base} scale: {scale} shift: {shift} }}'


def torch_exp(x, base, scale, shift):
    b = math.e if base == -1 else base
    return torch.pow(torch.tensor(b, dtype=x.dtype), shift + scale * x)


@pytest.mark.parametrize("base, scale, shift", CASES)
def test_forward_matches_torch(base, scale, shift):
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    y = forward_float32(exp_text(base, scale, shift), x)
    expected = torch_exp(torch.from_numpy(x).double(), base, scale, shift).numpy()
    np.testing.assert_allclose(y, expected, rtol=2e-6)


@pytest.mark.parametrize("base, scale, shift", CASES)
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(base, scale, shift, inplace):
    x = RNG.standard_normal((2, 3, 2))
    check_neuron_gradient(exp_text(base, scale, shift), x, inplace)


@pytest.mark.parametrize("base, scale, shift", CASES)
def test_backward_matches_torch_autograd(base, scale, shift):
    x = RNG.standard_normal((3, 4))
    dy = RNG.standard_normal(x.shape)
    layer, bottom, top = run_layer(exp_text(base, scale, shift), [x])
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    expected = torch_input_grad(lambda t: torch_exp(t, base, scale, shift), x, dy)
    np.testing.assert_allclose(bottom[0].diff, expected, rtol=1e-6)


@pytest.mark.parametrize("base", [0.0, -2.0])
def test_non_positive_base_rejected(base):
    with pytest.raises(ConfigError, match="base must be strictly positive"):
        run_layer(f'type: "Exp" exp_param {{ base: {base} }}', [np.zeros(3)])
