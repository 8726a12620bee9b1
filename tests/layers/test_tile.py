import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(6)


@pytest.mark.parametrize("axis,tiles", [(0, 2), (1, 3), (2, 2), (-1, 4)])
def test_matches_torch_repeat(axis, tiles):
    x = RNG.standard_normal((2, 3, 4))
    _, _, top = run_layer(f'type: "Tile" tile_param {{ axis: {axis} tiles: {tiles} }}', [x])
    reps = [1, 1, 1]
    reps[axis] = tiles
    expect = torch.from_numpy(x).repeat(*reps).numpy()
    assert top[0].shape == expect.shape
    np.testing.assert_array_equal(top[0].data, expect)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gradient(axis):
    layer = make_layer(f'type: "Tile" tile_param {{ axis: {axis} tiles: 3 }}')
    check_gradient(layer, blobs_from(RNG.standard_normal((2, 3, 2))), empty_tops(1))


def test_bad_params():
    with pytest.raises(ConfigError, match="tiles must be positive"):
        run_layer('type: "Tile" tile_param { tiles: 0 }', [np.zeros((2, 3))])
    with pytest.raises(ConfigError, match="axis 2 is out of range"):
        run_layer('type: "Tile" tile_param { axis: 2 tiles: 2 }', [np.zeros((2, 3))])
