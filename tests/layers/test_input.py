"""Input: top shapes from input_param.shape (once for all tops or once per top), bad counts."""
import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import empty_tops, make_layer


def setup(text, n_top):
    layer = make_layer(text)
    top = empty_tops(n_top, dtype=np.float32)
    layer.layer_setup([], top)
    return layer, top


def test_one_shape_per_top():
    _, top = setup('type: "Input" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 } shape { dim: 2 } }', 2)
    assert top[0].shape == (2, 3, 4, 5) and top[1].shape == (2,)


def test_single_shape_applies_to_every_top():
    _, top = setup('type: "Input" input_param { shape { dim: 1 dim: 3 } }', 3)
    assert [t.shape for t in top] == [(1, 3)] * 3


def test_no_shape_leaves_tops_alone_and_forward_keeps_user_data():
    layer, top = setup('type: "Input"', 1)
    top[0].reshape(2, 2)
    top[0].data[...] = [[1, 2], [3, 4]]
    layer.forward([], top)  # user-set shape and data survive forward (no reshape in Input)
    np.testing.assert_array_equal(top[0].data, [[1, 2], [3, 4]])
    assert top[0].shape == (2, 2)


def test_shape_count_mismatch_rejected():
    with pytest.raises(ConfigError, match="once per top"):
        setup('type: "Input" input_param { shape { dim: 1 } shape { dim: 2 } }', 3)


def test_negative_dim_rejected():
    with pytest.raises(ConfigError, match="non-negative"):
        setup('type: "Input" input_param { shape { dim: 1 dim: -3 } }', 1)


def test_bottoms_rejected():
    layer = make_layer('type: "Input" input_param { shape { dim: 1 } }')
    with pytest.raises(ConfigError, match="bottom"):
        layer.layer_setup(empty_tops(1), empty_tops(1))
