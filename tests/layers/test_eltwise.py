import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(7)
SHAPE = (2, 3, 2, 2)


def inputs(n=3):
    return [RNG.uniform(0.5, 1.5, SHAPE) * RNG.choice([-1, 1], SHAPE) for _ in range(n)]


def test_forward_matches_torch():
    xs = inputs()
    t = [torch.from_numpy(x) for x in xs]
    _, _, top = run_layer('type: "Eltwise" eltwise_param { operation: PROD }', xs)
    np.testing.assert_allclose(top[0].data, (t[0] * t[1] * t[2]).numpy(), rtol=1e-12)
    _, _, top = run_layer('type: "Eltwise"', xs)  # SUM by default
    np.testing.assert_allclose(top[0].data, (t[0] + t[1] + t[2]).numpy(), rtol=1e-12)
    _, _, top = run_layer('type: "Eltwise" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 coeff: 2 }', xs)
    np.testing.assert_allclose(top[0].data, (t[0] - 0.5 * t[1] + 2 * t[2]).numpy(), rtol=1e-12)
    _, _, top = run_layer('type: "Eltwise" eltwise_param { operation: MAX }', xs)
    np.testing.assert_array_equal(top[0].data, torch.maximum(torch.maximum(t[0], t[1]), t[2]).numpy())
    assert top[0].shape == SHAPE


@pytest.mark.parametrize("param", [
    "operation: PROD",
    "operation: PROD stable_prod_grad: false",
    "operation: SUM",
    "operation: SUM coeff: 1 coeff: -0.5 coeff: 2",
    "operation: MAX",
])
def test_gradient(param):
    layer = make_layer(f'type: "Eltwise" eltwise_param {{ {param} }}')
    check_gradient(layer, blobs_from(*inputs()), empty_tops(1))


@pytest.mark.parametrize("param", ["operation: PROD", "operation: SUM coeff: 2 coeff: 3", "operation: MAX"])
def test_gradient_propagate_down_subset(param):
    layer = make_layer(f'type: "Eltwise" eltwise_param {{ {param} }}')
    bottom = blobs_from(*inputs(2))
    bottom[0].diff[...] = 4.0
    check_gradient(layer, bottom, empty_tops(1), check_bottom=[1])
    assert np.all(bottom[0].diff == 4.0)


def test_max_keeps_caffe_tie_rule():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 3.0])
    c = np.array([1.0, 5.0, 0.0])
    layer, bottom, top = run_layer('type: "Eltwise" eltwise_param { operation: MAX }', [a, b, c])
    top[0].diff[...] = 1.0
    layer.backward(top, [True, True, True], bottom)
    # a tie between bottom 0 and 1 goes to bottom 1; later bottoms must be strictly larger
    np.testing.assert_array_equal(bottom[0].diff, [0, 0, 0])
    np.testing.assert_array_equal(bottom[1].diff, [1, 1, 1])
    np.testing.assert_array_equal(bottom[2].diff, [0, 0, 0])


def test_prod_gradient_with_zero_input_stable_vs_unstable():
    xs = [np.array([0.0, 2.0]), np.array([3.0, 4.0])]
    layer, bottom, top = run_layer('type: "Eltwise" eltwise_param { operation: PROD }', xs)
    top[0].diff[...] = 1.0
    layer.backward(top, [True, True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, [3.0, 4.0])
    np.testing.assert_array_equal(bottom[1].diff, [0.0, 2.0])


def test_bad_params():
    xs = inputs(2)
    with pytest.raises(ConfigError, match="one coefficient per bottom"):
        run_layer('type: "Eltwise" eltwise_param { coeff: 1 }', xs)
    with pytest.raises(ConfigError, match="only takes coefficients for summation"):
        run_layer('type: "Eltwise" eltwise_param { operation: PROD coeff: 1 coeff: 1 }', xs)
    with pytest.raises(ConfigError, match=r"bottom\[1\] 'b1' differs"):
        run_layer('type: "Eltwise"', [xs[0], np.zeros((2, 3))])
    with pytest.raises(ConfigError, match="wrong number of bottom"):
        run_layer('type: "Eltwise"', xs[:1])
