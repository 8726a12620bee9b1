"""Parameter: its learnable blob is the top; backward accumulates the top diff into the param."""
import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import empty_tops, make_layer

TEXT = 'type: "Parameter" parameter_param { shape { dim: 2 dim: 3 } }'


def setup(text=TEXT):
    layer = make_layer(text)
    top = empty_tops(1)
    layer.layer_setup([], top)
    return layer, top


def test_shape_and_blob():
    layer, top = setup()
    assert len(layer.blobs) == 1 and layer.blobs[0].shape == (2, 3) and top[0].shape == (2, 3)
    assert np.all(layer.blobs[0].data == 0)


def test_top_shows_param_values():
    layer, top = setup()
    layer.blobs[0].data[...] = np.arange(6).reshape(2, 3)
    layer.forward([], top)
    np.testing.assert_array_equal(top[0].data, np.arange(6).reshape(2, 3))


def test_backward_accumulates_into_param_diff():
    layer, top = setup()
    layer.forward([], top)
    top[0].diff[...] = 1.5
    layer.backward(top, [], [])
    layer.backward(top, [], [])
    np.testing.assert_array_equal(layer.blobs[0].diff, 3.0)
    layer.param_propagate_down = [False]
    layer.backward(top, [], [])
    np.testing.assert_array_equal(layer.blobs[0].diff, 3.0)


def test_top_diff_is_not_the_param_diff():
    # a consumer overwriting its bottom diff must not clobber the accumulated param gradient
    layer, top = setup()
    layer.forward([], top)
    layer.blobs[0].diff[...] = 4.0
    top[0].diff[...] = 0.0
    np.testing.assert_array_equal(layer.blobs[0].diff, 4.0)


def test_negative_dim_rejected():
    with pytest.raises(ConfigError, match="non-negative"):
        setup('type: "Parameter" parameter_param { shape { dim: -2 } }')


def test_bottom_rejected():
    layer = make_layer(TEXT)
    with pytest.raises(ConfigError, match="bottom"):
        layer.layer_setup(empty_tops(1), empty_tops(1))
