import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("axis,end_axis", [(1, -1), (0, -1), (1, 2), (2, 3), (-2, -1), (0, 0)])
def test_matches_torch_flatten(axis, end_axis):
    x = RNG.standard_normal((2, 3, 4, 5))
    _, bottom, top = run_layer(f'type: "Flatten" flatten_param {{ axis: {axis} end_axis: {end_axis} }}', [x])
    expect = torch.flatten(torch.from_numpy(x), axis, end_axis).numpy()
    assert top[0].shape == expect.shape
    np.testing.assert_array_equal(top[0].data, expect)
    assert top[0].shares_data_with(bottom[0]) and top[0].shares_diff_with(bottom[0])


def test_default_flattens_to_2d_and_diff_is_shared():
    layer, bottom, top = run_layer('type: "Flatten"', [RNG.standard_normal((2, 3, 4))])
    assert top[0].shape == (2, 12)
    top[0].diff[...] = 3.0
    layer.backward(top, [True], bottom)
    assert np.all(bottom[0].diff == 3.0)


def test_gradient():
    check_gradient(make_layer('type: "Flatten"'), blobs_from(RNG.standard_normal((2, 3, 2))), empty_tops(1))


def test_bad_axes():
    with pytest.raises(ConfigError, match="end_axis"):
        run_layer('type: "Flatten" flatten_param { axis: 2 end_axis: 1 }', [RNG.standard_normal((2, 3, 4))])
    with pytest.raises(ConfigError, match="axis 3 is out of range"):
        run_layer('type: "Flatten" flatten_param { axis: 3 }', [RNG.standard_normal((2, 3, 4))])
