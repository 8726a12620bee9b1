"""Log: y = log_base(shift + scale x) vs torch (forward and autograd), gradients, in place, bad base."""
import math

import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import run_layer
from neuron_checks import check_backward_vs_torch, check_forward_vs_torch, check_neuron_gradient

RNG = np.random.default_rng(18)
CASES = [(-1.0, 1.0, 0.0), (-1.0, 0.5, 1.0), (2.0, 1.0, 0.0), (10.0, -0.75, 3.0), (0.5, 2.0, 0.25)]


def log_text(base, scale, shift):
    return f'type: "Log" log_param {{ base: {base} scale: {scale} shift: {shift} }}'


def torch_log(x, base, scale, shift):
    y = torch.log(shift + scale * x)
    return y if base == -1 else y / math.log(base)


def positive_inputs(shape):
    return RNG.uniform(0.2, 2.0, size=shape)  # shift + scale x > 0 for every case


@pytest.mark.parametrize("base, scale, shift", CASES)
def test_forward_matches_torch(base, scale, shift):
    x = positive_inputs((2, 3, 4)).astype(np.float32)
    check_forward_vs_torch(log_text(base, scale, shift), x, lambda t: torch_log(t.double(), base, scale, shift),
                           rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("base, scale, shift", CASES)
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(base, scale, shift, inplace):
    x = positive_inputs((2, 3, 2))
    check_neuron_gradient(log_text(base, scale, shift), x, inplace)


@pytest.mark.parametrize("base, scale, shift", CASES)
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(base, scale, shift, inplace):
    x = positive_inputs((3, 4))
    dy = RNG.standard_normal(x.shape)
    check_backward_vs_torch(log_text(base, scale, shift), x, dy, lambda t: torch_log(t, base, scale, shift),
                            inplace, rtol=1e-6)


@pytest.mark.parametrize("base, match", [(0.0, "strictly positive"), (-3.0, "strictly positive"),
                                         (1.0, "degenerate")])
def test_bad_base_rejected(base, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(f'type: "Log" log_param {{ base: {base} }}', [np.ones(3)])
