import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(2)


def test_tops_share_the_bottom_data():
    x = RNG.standard_normal((2, 3, 4))
    _, bottom, top = run_layer('type: "Split"', [x], n_top=3)
    for t in top:
        assert t.shape == x.shape
        assert t.shares_data_with(bottom[0]) and not t.shares_diff_with(bottom[0])
        np.testing.assert_array_equal(t.data, x)
    bottom[0].data[0, 0, 0] = 42.0  # one memory: a later write shows in every top
    assert all(t.data[0, 0, 0] == 42.0 for t in top)


def test_backward_sums_top_diffs():
    layer, bottom, top = run_layer('type: "Split"', [RNG.standard_normal((3, 2))], n_top=3)
    diffs = [RNG.standard_normal((3, 2)) for _ in top]
    for t, d in zip(top, diffs):
        t.diff[...] = d
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, diffs[0] + diffs[1] + diffs[2], rtol=1e-12)
    bottom[0].diff[...] = 5.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 5.0)


def test_gradient():
    layer = make_layer('type: "Split"')
    check_gradient(layer, blobs_from(RNG.standard_normal((2, 3))), empty_tops(2))
    layer = make_layer('type: "Split"')
    check_gradient(layer, blobs_from(RNG.standard_normal((2, 3))), empty_tops(1))


def test_reshape_follows_the_bottom():
    layer, bottom, top = run_layer('type: "Split"', [RNG.standard_normal((2, 3))], n_top=2)
    bottom[0].reshape(4, 5)
    bottom[0].data[...] = 1.5
    layer.forward(bottom, top)
    assert all(t.shape == (4, 5) and np.all(t.data == 1.5) for t in top)


def test_in_place_rejected():
    layer = make_layer('type: "Split"')
    bottom = blobs_from(RNG.standard_normal((2, 3)))
    with pytest.raises(ConfigError, match="in-place"):
        layer.layer_setup(bottom, [bottom[0], empty_tops(1)[0]])
