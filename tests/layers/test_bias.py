import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import run_layer
from axis_blob_checks import broadcast_view, check_gradient_maybe_in_place, check_learned_blob_forward

RNG = np.random.default_rng(14)
X_SHAPE = (2, 3, 4, 2)


@pytest.mark.parametrize("params,axis,shape", [
    ("", 1, (3,)), ("axis: 0 num_axes: 2", 0, (2, 3)), ("num_axes: -1", 1, (3, 4, 2)),
    ("axis: -1", 3, (2,)), ("num_axes: 0", 0, ()),
])
def test_learned_bias_forward_matches_torch(params, axis, shape):
    check_learned_blob_forward(f'type: "Bias" bias_param {{ {params} filler {{ type: "gaussian" }} }}',
                               RNG.standard_normal(X_SHAPE), axis, shape, torch.add)


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
    np.testing.assert_allclose(top[0].data, x + b.reshape(broadcast_view(x.ndim, axis, bias_shape)), rtol=1e-12)


@pytest.mark.parametrize("params", ["", "axis: 0 num_axes: 2", "num_axes: -1", "num_axes: 0"])
@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_one_bottom(params, in_place):
    check_gradient_maybe_in_place(f'type: "Bias" bias_param {{ {params} filler {{ type: "gaussian" }} }}',
                                  [RNG.standard_normal((2, 3, 2, 2))], in_place)


@pytest.mark.parametrize("bias_shape,params", [((3,), ""), ((3, 2), ""), ((2,), "axis: 0"), ((), "")])
@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_two_bottoms(bias_shape, params, in_place):
    check_gradient_maybe_in_place(f'type: "Bias" bias_param {{ {params} }}',
                                  [RNG.standard_normal((2, 3, 2, 2)), RNG.standard_normal(bias_shape)], in_place)


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
