import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer

RNG = np.random.default_rng(9)


def setup_filter(selector, shapes=((5, 3, 2), (5, 4))):
    layer = make_layer('type: "Filter"')
    bottom = blobs_from(*[RNG.standard_normal(s) for s in shapes], np.asarray(selector, dtype=float))
    top = empty_tops(len(shapes))
    layer.layer_setup(bottom, top)
    return layer, bottom, top


def test_first_reshape_uses_the_batch_size_then_selected_items():
    sel = np.array([1, 0, 0, 1, 1]).reshape(5, 1)
    layer, bottom, top = setup_filter(sel)
    assert top[0].shape == (5, 3, 2) and top[1].shape == (5, 4)  # before data is known, as Caffe
    layer.forward(bottom, top)
    keep = np.flatnonzero(sel.ravel())
    assert top[0].shape == (3, 3, 2) and top[1].shape == (3, 4)
    np.testing.assert_array_equal(top[0].data, bottom[0].data[keep])
    np.testing.assert_array_equal(top[1].data, bottom[1].data[keep])


def test_backward_scatters_and_zeroes_the_rest():
    layer, bottom, top = setup_filter([0, 2.5, 0, 0, -1])
    layer.forward(bottom, top)
    assert top[0].shape[0] == 2
    top[0].diff[...] = RNG.standard_normal(top[0].shape)
    bottom[0].diff[...] = 7.0
    layer.backward(top, [True, False, False], bottom)
    expect = np.zeros((5, 3, 2))
    expect[[1, 4]] = top[0].diff
    np.testing.assert_array_equal(bottom[0].diff, expect)
    with pytest.raises(ConfigError, match="selector"):
        layer.backward(top, [True, False, True], bottom)
    assert not layer.allow_force_backward(2) and layer.allow_force_backward(0)


def test_gradient():
    layer, bottom, top = setup_filter([1, 0, 1, 1, 0])
    check_gradient(layer, bottom, top, check_bottom=[0, 1])


def test_bad_shapes():
    with pytest.raises(ConfigError, match="one top per bottom"):
        make_layer('type: "Filter"').layer_setup(blobs_from(np.zeros((2, 3)), np.ones(2)), empty_tops(2))
    with pytest.raises(ConfigError, match="singletons"):
        setup_filter(np.ones((5, 2)))
    with pytest.raises(ConfigError, match=r"bottom\[1\] 'b1' must have the same first dimension"):
        setup_filter(np.ones(5), shapes=((5, 2), (4, 2)))
