import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(14)
X_SHAPE = (2, 3, 4, 2)


def view(axis, shape):
    return (1,) * axis + tuple(shape) + (1,) * (len(X_SHAPE) - axis - len(shape))


@pytest.mark.parametrize("params,axis,shape", [
    ("", 1, (3,)), ("axis: 0 num_axes: 2", 0, (2, 3)), ("num_axes: -1", 1, (3, 4, 2)),
    ("axis: -1", 3, (2,)), ("num_axes: 0", 0, ()),
])
def test_learned_bias_forward_matches_torch(params, axis, shape):
    x = RNG.standard_normal(X_SHAPE)
    layer = make_layer(f'type: "Bias" bias_param {{ {params} filler {{ type: "gaussian" }} }}')
    bottom, top = blobs_from(x), empty_tops(1)
    layer.layer_setup(bottom, top)
    assert layer.blobs[0].shape == shape
    layer.forward(bottom, top)
    b = torch.from_numpy(layer.blobs[0].data.copy()).reshape(view(axis, shape))
    np.testing.assert_allclose(top[0].data, (torch.from_numpy(x) + b).numpy(), rtol=1e-12)


def test_default_filler_is_zero():
    x = RNG.standard_normal(X_SHAPE)
    layer, _, top = run_layer('type: "Bias"', [x])
    assert np.all(layer.blobs[0].data == 0)
    np.testing.assert_array_equal(top[0].data, x)


@pytest.mark.parametrize("params,bias_shape,axis", [("", (3, 4), 1), ("axis: 0", (2,), 0), ("", (), 0)])
def test_two_bottoms_forward(params, bias_shape, axis):
    x, b = RNG.standard_normal(X_SHAPE), RNG.standard_normal(bias_shape)
    layer, _, top = run_layer(f'type: "Bias" bias_param {{ {params} }}', [x, b])
    assert layer.blobs == []
    np.testing.assert_allclose(top[0].data, x + b.reshape(view(axis, bias_shape)), rtol=1e-12)


@pytest.mark.parametrize("params", ["", "axis: 0 num_axes: 2", "num_axes: -1", "num_axes: 0"])
@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_one_bottom(params, in_place):
    layer = make_layer(f'type: "Bias" bias_param {{ {params} filler {{ type: "gaussian" }} }}')
    bottom = blobs_from(RNG.standard_normal((2, 3, 2, 2)))
    check_gradient(layer, bottom, [bottom[0]] if in_place else empty_tops(1))


@pytest.mark.parametrize("bias_shape,params", [((3,), ""), ((3, 2), ""), ((2,), "axis: 0"), ((), "")])
@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_two_bottoms(bias_shape, params, in_place):
    layer = make_layer(f'type: "Bias" bias_param {{ {params} }}')
    bottom = blobs_from(RNG.standard_normal((2, 3, 2, 2)), RNG.standard_normal(bias_shape))
    check_gradient(layer, bottom, [bottom[0]] if in_place else empty_tops(1))


def test_param_diff_accumulates():
    layer, bottom, top = run_layer('type: "Bias"', [RNG.standard_normal((2, 3, 2))])
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(layer.blobs[0].diff, [8.0, 8.0, 8.0])


@pytest.mark.parametrize("params,bottoms,match", [
    ("axis: 3 num_axes: 2", [X_SHAPE], "extends past bottom"),
    ("", [X_SHAPE, (3, 5)], r"dimension mismatch between the bias blob.*expected \(3, 4\), found \(3, 5\)"),
    ("axis: -5", [X_SHAPE], "axis -5 is out of range"),
])
def test_shape_mismatch_rejected(params, bottoms, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(f'type: "Bias" bias_param {{ {params} }}', [np.zeros(s) for s in bottoms])
