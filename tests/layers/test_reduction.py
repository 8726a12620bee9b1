import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(8)
OPS = ["SUM", "ASUM", "SUMSQ", "MEAN"]


def torch_reduce(x, op, axis, coeff):
    t = torch.from_numpy(x).flatten(axis) if axis < x.ndim else torch.from_numpy(x)
    dims = -1
    r = {"SUM": lambda: t.sum(dims), "ASUM": lambda: t.abs().sum(dims),
         "SUMSQ": lambda: (t * t).sum(dims), "MEAN": lambda: t.mean(dims)}[op]()
    return (r * coeff).numpy()


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_forward_matches_torch(op, axis):
    x = RNG.standard_normal((2, 3, 4))
    _, _, top = run_layer(f'type: "Reduction" reduction_param {{ operation: {op} axis: {axis} coeff: 0.75 }}', [x])
    expect = torch_reduce(x, op, axis % 3, 0.75)
    assert top[0].shape == x.shape[:axis % 3]
    np.testing.assert_allclose(top[0].data, expect, rtol=1e-12)


def test_default_reduces_everything_to_a_scalar():
    x = RNG.standard_normal((2, 3))
    _, _, top = run_layer('type: "Reduction"', [x])
    assert top[0].shape == ()
    np.testing.assert_allclose(top[0].data, x.sum(), rtol=1e-12)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gradient(op, axis):
    layer = make_layer(f'type: "Reduction" reduction_param {{ operation: {op} axis: {axis} coeff: -1.5 }}')
    x = RNG.uniform(0.2, 1.0, (2, 3, 2)) * RNG.choice([-1, 1], (2, 3, 2))  # away from the |x| kink
    check_gradient(layer, blobs_from(x), empty_tops(1))


def test_bad_axis():
    with pytest.raises(ConfigError, match="axis 3 is out of range"):
        run_layer('type: "Reduction" reduction_param { axis: 3 }', [np.zeros((2, 3, 4))])
