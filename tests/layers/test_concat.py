import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(0)


def arrays(*shapes):
    return [RNG.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("axis,shapes", [
    (0, [(2, 3, 4), (1, 3, 4), (3, 3, 4)]),
    (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
    (2, [(2, 3, 4), (2, 3, 2)]),
    (-1, [(2, 3, 1), (2, 3, 5)]),
])
def test_forward_matches_torch_cat(axis, shapes):
    xs = arrays(*shapes)
    _, _, top = run_layer(f'type: "Concat" concat_param {{ axis: {axis} }}', xs)
    expect = torch.cat([torch.from_numpy(x) for x in xs], dim=axis).numpy()
    assert top[0].shape == expect.shape
    np.testing.assert_array_equal(top[0].data, expect)


def test_default_axis_is_channels_and_legacy_concat_dim():
    xs = arrays((2, 3, 2, 2), (2, 4, 2, 2))
    _, _, top = run_layer('type: "Concat"', xs)
    assert top[0].shape == (2, 7, 2, 2)
    _, _, top0 = run_layer('type: "Concat" concat_param { concat_dim: 0 }', arrays((1, 3), (2, 3)))
    assert top0[0].shape == (3, 3)


def test_single_bottom_shares_memory():
    layer, bottom, top = run_layer('type: "Concat"', arrays((2, 3)))
    assert top[0].shares_data_with(bottom[0]) and top[0].shares_diff_with(bottom[0])
    np.testing.assert_array_equal(top[0].data, bottom[0].data)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gradient(axis):
    shapes = [[2, 3, 2], [2, 3, 2], [2, 3, 2]]
    for k, s in enumerate(shapes):
        s[axis] += k
    layer = make_layer(f'type: "Concat" concat_param {{ axis: {axis} }}')
    bottom = blobs_from(*arrays(*shapes))
    check_gradient(layer, bottom, empty_tops(1))


def test_propagate_down_subset_leaves_other_diffs():
    layer = make_layer('type: "Concat"')
    bottom = blobs_from(*arrays((2, 2, 3), (2, 1, 3)))
    top = empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = RNG.standard_normal(top[0].shape)
    bottom[0].diff[...] = 7.0
    layer.backward(top, [False, True], bottom)
    assert np.all(bottom[0].diff == 7.0)
    np.testing.assert_array_equal(bottom[1].diff, top[0].diff[:, 2:])
    check_gradient(layer, bottom, top, check_bottom=[1])


def test_shape_mismatch_names_the_bottom():
    layer = make_layer('type: "Concat" concat_param { axis: 1 }')
    bottom = blobs_from(*arrays((2, 3, 4), (2, 3, 5)))
    with pytest.raises(ConfigError, match=r"except at the concat axis 1; bottom\[1\] 'b1' has shape \(2, 3, 5\)"):
        layer.layer_setup(bottom, empty_tops(1))


def test_bad_params():
    with pytest.raises(ConfigError, match="same number of axes"):
        run_layer('type: "Concat"', arrays((2, 3), (2, 3, 1)))
    with pytest.raises(ConfigError, match="not both"):
        run_layer('type: "Concat" concat_param { axis: 1 concat_dim: 1 }', arrays((2, 3), (2, 3)))
    with pytest.raises(ConfigError, match="axis 3 is out of range"):
        run_layer('type: "Concat" concat_param { axis: 3 }', arrays((2, 3), (2, 3)))
    with pytest.raises(ConfigError, match="concat_dim out of range"):
        run_layer('type: "Concat" concat_param { concat_dim: 2 }', arrays((2, 3), (2, 3)))
