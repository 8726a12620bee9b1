"""Power: y = (shift + scale x)^power vs torch, Caffe's special cases, gradients, in place."""
import numpy as np
import pytest
import torch

from caffeine.testing.layer_helpers import run_layer
from neuron_checks import check_backward_vs_torch, check_forward_vs_torch, check_neuron_gradient

RNG = np.random.default_rng(19)
# (power, scale, shift): general, square (Caffe's power == 2 branch), shift 0, affine, fractional
CASES = [(3.0, 0.5, 2.0), (2.0, 0.5, 1.0), (2.0, 1.0, 0.0), (3.0, -2.0, 0.0), (1.0, 2.0, -1.0),
         (0.5, 1.5, 4.0), (-1.5, 0.25, 3.0)]


def power_text(power, scale, shift):
    return f'type: "Power" power_param {{ power: {power} scale: {scale} shift: {shift} }}'


def inputs(shape):
    return RNG.uniform(-2.0, 2.0, size=shape)  # shift + scale x > 0 for the fractional cases


@pytest.mark.parametrize("power, scale, shift", CASES)
def test_forward_matches_torch(power, scale, shift):
    x = inputs((2, 3, 4)).astype(np.float32)
    check_forward_vs_torch(power_text(power, scale, shift), x, lambda t: torch.pow(shift + scale * t.double(), power),
                           rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("power, scale, shift", CASES)
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(power, scale, shift, inplace):
    x = inputs((2, 3, 2))
    check_neuron_gradient(power_text(power, scale, shift), x, inplace)


@pytest.mark.parametrize("power, scale, shift", CASES)
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(power, scale, shift, inplace):
    x = inputs((3, 4))
    dy = RNG.standard_normal(x.shape)
    check_backward_vs_torch(power_text(power, scale, shift), x, dy, lambda t: torch.pow(shift + scale * t, power),
                            inplace, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("power, scale, shift, value", [
    (0.0, 2.0, 3.0, 1.0),    # power 0: y = 1
    (0.0, 0.0, 0.0, 1.0),    # 0^0 = 1, as Caffe
    (2.0, 0.0, 3.0, 9.0),    # scale 0: y = shift^power
    (-1.0, 0.0, 0.0, np.inf),
])
def test_constant_output_cases_have_zero_gradient(power, scale, shift, value):
    x = inputs((2, 3))
    layer, bottom, top = run_layer(power_text(power, scale, shift), [x])
    np.testing.assert_array_equal(top[0].data, np.full(x.shape, value))
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, 0.0)


def test_gradient_at_zero_base_is_the_limit_not_nan():
    # Caffe computes power * y / x here, which is 0/0; the derivative of x^3 at 0 is 0
    layer, bottom, top = run_layer(power_text(3.0, 1.0, 0.0), [np.array([0.0, 1.0, -2.0])])
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, [0.0, 3.0, 12.0])
