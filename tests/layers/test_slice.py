import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(1)


@pytest.mark.parametrize("axis,points", [(0, [1, 3]), (1, [2]), (2, [1, 2, 4]), (-1, [3])])
def test_forward_matches_torch_split(axis, points):
    x = RNG.standard_normal((4, 5, 6))
    text = f'type: "Slice" slice_param {{ axis: {axis} ' + " ".join(f"slice_point: {p}" for p in points) + " }"
    _, _, top = run_layer(text, [x], n_top=len(points) + 1)
    sizes = np.diff([0] + points + [x.shape[axis]]).tolist()
    expect = torch.split(torch.from_numpy(x), sizes, dim=axis)
    for t, e in zip(top, expect):
        assert t.shape == tuple(e.shape)
        np.testing.assert_array_equal(t.data, e.numpy())


def test_equal_split_without_points_and_legacy_slice_dim():
    x = RNG.standard_normal((2, 6, 3))
    _, _, top = run_layer('type: "Slice"', [x], n_top=3)
    for t, e in zip(top, torch.chunk(torch.from_numpy(x), 3, dim=1)):
        np.testing.assert_array_equal(t.data, e.numpy())
    _, _, top = run_layer('type: "Slice" slice_param { slice_dim: 0 slice_point: 1 }', [x], n_top=2)
    assert [t.shape for t in top] == [(1, 6, 3), (1, 6, 3)]


def test_single_top_shares_memory():
    _, bottom, top = run_layer('type: "Slice"', [RNG.standard_normal((2, 3))], n_top=1)
    assert top[0].shares_data_with(bottom[0]) and top[0].shares_diff_with(bottom[0])


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_gradient(axis):
    layer = make_layer(f'type: "Slice" slice_param {{ axis: {axis} slice_point: 1 slice_point: 3 }}')
    bottom = blobs_from(RNG.standard_normal((4, 4, 4)))
    check_gradient(layer, bottom, empty_tops(3))


def test_gradient_of_a_subset_of_tops():
    layer = make_layer('type: "Slice" slice_param { axis: 1 }')
    bottom = blobs_from(RNG.standard_normal((2, 4, 3)))
    check_gradient(layer, bottom, empty_tops(2), top_ids=[1])


def test_bad_slice_points():
    x = RNG.standard_normal((2, 6))
    with pytest.raises(ConfigError, match="strictly increasing"):
        run_layer('type: "Slice" slice_param { slice_point: 3 slice_point: 2 }', [x], n_top=3)
    with pytest.raises(ConfigError, match="strictly increasing"):
        run_layer('type: "Slice" slice_param { slice_point: 2 slice_point: 2 }', [x], n_top=3)
    with pytest.raises(ConfigError, match="within 1..5"):
        run_layer('type: "Slice" slice_param { slice_point: 6 }', [x], n_top=2)
    with pytest.raises(ConfigError, match="slice_point.*expected 1, found 2"):
        run_layer('type: "Slice" slice_param { slice_point: 1 slice_point: 2 }', [x], n_top=2)
    with pytest.raises(ConfigError, match="cannot be split equally"):
        run_layer('type: "Slice"', [x], n_top=4)
    with pytest.raises(ConfigError, match="not both"):
        run_layer('type: "Slice" slice_param { axis: 1 slice_dim: 1 }', [x], n_top=2)
    with pytest.raises(ConfigError, match="slice_dim out of range"):
        run_layer('type: "Slice" slice_param { slice_dim: 2 }', [x], n_top=2)
