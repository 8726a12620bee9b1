import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(10)


def test_forward_matches_torch_index_select():
    x = RNG.standard_normal((5, 3, 2))
    idx = np.array([4, 0, 0, 2, 4, 4, 1])
    _, _, top = run_layer('type: "BatchReindex"', [x, idx.astype(float)])
    expect = torch.index_select(torch.from_numpy(x), 0, torch.from_numpy(idx)).numpy()
    assert top[0].shape == (7, 3, 2)
    np.testing.assert_array_equal(top[0].data, expect)


def test_backward_sums_repeated_items():
    x = RNG.standard_normal((4, 2))
    idx = np.array([3, 1, 3, 3])
    layer, bottom, top = run_layer('type: "BatchReindex"', [x, idx.astype(float)])
    g = RNG.standard_normal((4, 2))
    top[0].diff[...] = g
    layer.backward(top, [True, False], bottom)
    expect = np.zeros((4, 2))
    for i, k in enumerate(idx):  # the oracle may loop
        expect[k] += g[i]
    np.testing.assert_allclose(bottom[0].diff, expect, rtol=1e-12)
    with pytest.raises(ConfigError, match="index bottom"):
        layer.backward(top, [True, True], bottom)


def test_gradient():
    layer = make_layer('type: "BatchReindex"')
    bottom = blobs_from(RNG.standard_normal((4, 3)), np.array([2.0, 2.0, 0.0, 3.0, 2.0]))
    check_gradient(layer, bottom, empty_tops(1), check_bottom=[0])


def test_bad_indices():
    with pytest.raises(ConfigError, match="out of range for a batch of 3"):
        run_layer('type: "BatchReindex"', [np.zeros((3, 2)), np.array([0.0, 3.0])])
    with pytest.raises(ConfigError, match="out of range"):
        run_layer('type: "BatchReindex"', [np.zeros((3, 2)), np.array([-1.0])])
    with pytest.raises(ConfigError, match="index bottom must be 1-D"):
        run_layer('type: "BatchReindex"', [np.zeros((3, 2)), np.zeros((2, 1))])
