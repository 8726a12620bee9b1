import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer
from axis_blob_checks import broadcast_view, check_gradient_maybe_in_place, check_learned_blob_forward

RNG = np.random.default_rng(13)
X_SHAPE = (2, 3, 4, 2)


@pytest.mark.parametrize("params,axis,shape", [
    ("", 1, (3,)),
    ("axis: 0 num_axes: 2", 0, (2, 3)),
    ("axis: 2 num_axes: -1", 2, (4, 2)),
    ("axis: -1", 3, (2,)),
    ("num_axes: 0", 0, ()),
    ("axis: 1 num_axes: 3", 1, (3, 4, 2)),
])
def test_learned_scale_forward_matches_torch(params, axis, shape):
    check_learned_blob_forward(f'type: "Scale" scale_param {{ {params} filler {{ type: "gaussian" }} }}',
                               RNG.standard_normal(X_SHAPE), axis, shape, torch.mul)


def test_default_filler_is_identity_and_bias_term():
    x = RNG.standard_normal(X_SHAPE)
    layer, _, top = run_layer('type: "Scale" scale_param { bias_term: true }', [x])
    assert [b.shape for b in layer.blobs] == [(3,), (3,)]
    assert np.all(layer.blobs[0].data == 1) and np.all(layer.blobs[1].data == 0)
    np.testing.assert_array_equal(top[0].data, x)
    layer = make_layer('type: "Scale" scale_param { bias_term: true bias_filler { type: "constant" value: 0.5 } '
                       'filler { type: "constant" value: 2 } }')
    bottom, top = blobs_from(x), empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, 2 * x + 0.5, rtol=1e-12)


@pytest.mark.parametrize("params,scale_shape,axis", [
    ("", (3,), 1), ("", (3, 4), 1), ("axis: 0", (2, 3, 4, 2), 0), ("axis: -2", (4, 2), 2), ("axis: 2", (), 0),
])
def test_two_bottoms_forward_matches_torch(params, scale_shape, axis):
    x, s = RNG.standard_normal(X_SHAPE), RNG.standard_normal(scale_shape)
    layer, _, top = run_layer(f'type: "Scale" scale_param {{ {params} }}', [x, s])
    assert layer.blobs == []
    expect = torch.from_numpy(x) * torch.from_numpy(s).reshape(broadcast_view(x.ndim, axis, scale_shape))
    np.testing.assert_allclose(top[0].data, expect.numpy(), rtol=1e-12)


def test_two_bottoms_with_bias_term_has_only_the_bias_blob():
    x, s = RNG.standard_normal(X_SHAPE), RNG.standard_normal((3, 4))
    layer = make_layer('type: "Scale" scale_param { bias_term: true bias_filler { type: "gaussian" } }')
    bottom, top = blobs_from(x, s), empty_tops(1)
    layer.layer_setup(bottom, top)
    assert [b.shape for b in layer.blobs] == [(3, 4)]
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, x * s[None, :, :, None] + layer.blobs[0].data[None, :, :, None],
                               rtol=1e-12)


@pytest.mark.parametrize("params", ["", "axis: 0 num_axes: 2", "num_axes: -1", "num_axes: 0",
                                    "bias_term: true bias_filler { type: 'gaussian' }",
                                    "axis: 2 num_axes: 2 bias_term: true bias_filler { type: 'gaussian' }"])
@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_one_bottom(params, in_place):
    check_gradient_maybe_in_place(f'type: "Scale" scale_param {{ {params} filler {{ type: "gaussian" }} }}',
                                  [RNG.standard_normal((2, 3, 2, 2))], in_place)


@pytest.mark.parametrize("scale_shape,params", [((3,), ""), ((3, 2), ""), ((2, 3, 2, 2), "axis: 0"), ((), ""),
                                                ((3, 2), "bias_term: true bias_filler { type: 'gaussian' }")])
@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_two_bottoms(scale_shape, params, in_place):
    check_gradient_maybe_in_place(f'type: "Scale" scale_param {{ {params} }}',
                                  [RNG.standard_normal((2, 3, 2, 2)), RNG.standard_normal(scale_shape)], in_place)


def test_param_diffs_accumulate_and_propagate_down_respected():
    layer, bottom, top = run_layer('type: "Scale" scale_param { bias_term: true }', [RNG.standard_normal((2, 3))])
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(layer.blobs[1].diff, [4.0, 4.0, 4.0])
    np.testing.assert_allclose(layer.blobs[0].diff, 2 * bottom[0].data.sum(axis=0), rtol=1e-12)
    bottom[0].diff[...] = 9.0
    layer.param_propagate_down = [False, False]
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 9.0)
    np.testing.assert_allclose(layer.blobs[1].diff, [4.0, 4.0, 4.0])


@pytest.mark.parametrize("params,bottoms,match", [
    ("axis: 2 num_axes: 3", [(2, 3, 4, 2)], "extends past bottom"),
    ("axis: 4", [(2, 3, 4, 2)], "axis 4 is out of range"),
    ("num_axes: -2", [(2, 3, 4, 2)], "num_axes must be non-negative"),
    ("", [(2, 3, 4, 2), (4,)], r"dimension mismatch between the scale blob and bottom\[0\] axes 1..1.*"
                              r"expected \(3,\), found \(4,\)"),
    ("axis: 2", [(2, 3, 4, 2), (4, 2, 2)], "extends past bottom"),
])
def test_shape_mismatch_rejected(params, bottoms, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(f'type: "Scale" scale_param {{ {params} }}', [np.zeros(s) for s in bottoms])
