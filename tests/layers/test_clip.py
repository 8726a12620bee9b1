"""Clip: forward vs torch.clamp, gradient passes on [min, max] inclusive, in place, bad params."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import run_layer
from neuron_checks import check_neuron_gradient, forward_backward, forward_float32, torch_input_grad

RNG = np.random.default_rng(15)
TEXT = 'type: "Clip" clip_param { min: -0.5 max: 0.75 }'


def away_from_bounds(shape):
    """Random values at least 0.05 away from -0.5 and 0.75 (the kinks)."""
    x = RNG.uniform(-1.5, 1.5, size=shape)
    for bound in (-0.5, 0.75):
        near = np.abs(x - bound) < 0.05
        x[near] += 0.1
    return x


def test_forward_matches_torch_clamp():
    x = (RNG.standard_normal((2, 3, 4, 5))).astype(np.float32)
    y = forward_float32(TEXT, x)
    np.testing.assert_array_equal(y, torch.clamp(torch.from_numpy(x), -0.5, 0.75).numpy())


def test_gradient():
    check_neuron_gradient(TEXT, away_from_bounds((2, 3, 4)), inplace=False)


def test_in_place_gradient():
    check_neuron_gradient(TEXT, away_from_bounds((2, 3, 4)), inplace=True)


@pytest.mark.parametrize("inplace", [False, True])
def test_gradient_passes_on_closed_interval(inplace):
    x = np.array([-2.0, -0.5, 0.0, 0.75, 3.0])
    y, dx = forward_backward(TEXT, x, [1.0, 2.0, 3.0, 4.0, 5.0], inplace)
    np.testing.assert_array_equal(y, [-0.5, -0.5, 0.0, 0.75, 0.75])
    # Caffe: top_diff * (min <= x <= max), boundaries included
    np.testing.assert_array_equal(dx, [0.0, 2.0, 3.0, 4.0, 0.0])


def test_backward_matches_torch_autograd_inside_and_outside():
    x = away_from_bounds((4, 5))
    dy = RNG.standard_normal(x.shape)
    layer, bottom, top = run_layer(TEXT, [x])
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    expected = torch_input_grad(lambda t: torch.clamp(t, -0.5, 0.75), x, dy)
    np.testing.assert_array_equal(bottom[0].diff, expected)


@pytest.mark.parametrize("text, match", [
    ('type: "Clip"', "clip_param"),
    ('type: "Clip" clip_param { min: 0 }', "clip_param.max"),
    ('type: "Clip" clip_param { max: 1 }', "clip_param.min"),
    ('type: "Clip" clip_param { min: 2 max: 1 }', "must not exceed"),
])
def test_bad_params_rejected(text, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(text, [np.zeros((2, 2))])
