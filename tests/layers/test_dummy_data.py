"""DummyData: shapes (new and legacy fields), fillers, refill only for non-constant fillers."""
import numpy as np
import pytest

from caffeine import backend
from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import empty_tops, make_layer


def setup(text, n_top):
    layer = make_layer(text)
    top = empty_tops(n_top, dtype=np.float32)
    layer.layer_setup([], top)
    return layer, top


def test_default_filler_is_zero_and_shapes_per_top():
    text = 'type: "DummyData" dummy_data_param { shape { dim: 2 dim: 3 } shape { dim: 4 } }'
    layer, top = setup(text, 2)
    assert top[0].shape == (2, 3) and top[1].shape == (4,)
    layer.forward([], top)
    assert np.all(top[0].data == 0) and np.all(top[1].data == 0)


def test_one_shape_for_all_tops_and_constant_filler():
    text = ('type: "DummyData" dummy_data_param { shape { dim: 3 dim: 2 } '
            'data_filler { type: "constant" value: 1.5 } }')
    layer, top = setup(text, 2)
    layer.forward([], top)
    for t in top:
        assert t.shape == (3, 2)
        np.testing.assert_array_equal(t.data, 1.5)


def test_legacy_num_channels_height_width():
    text = ('type: "DummyData" dummy_data_param { num: 2 channels: 3 height: 4 width: 5 '
            'num: 1 channels: 1 height: 1 width: 7 }')
    _, top = setup(text, 2)
    assert top[0].shape == (2, 3, 4, 5) and top[1].shape == (1, 1, 1, 7)


def test_constant_filled_once_non_constant_refilled_every_forward():
    backend.set_random_seed(4)
    text = ('type: "DummyData" dummy_data_param { shape { dim: 50 } '
            'data_filler { type: "constant" value: 2 } data_filler { type: "gaussian" std: 1 } }')
    layer, top = setup(text, 2)
    top[0].data[...] = 9.0  # Caffe does not refill a constant top: what the user writes stays
    layer.forward([], top)
    first = top[1].data.copy()
    layer.forward([], top)
    np.testing.assert_array_equal(top[0].data, 9.0)
    assert np.any(top[1].data != first)
    assert 0.5 < top[1].data.std() < 1.5


def test_uniform_filler_range():
    text = ('type: "DummyData" dummy_data_param { shape { dim: 100 } '
            'data_filler { type: "uniform" min: 2 max: 3 } }')
    layer, top = setup(text, 1)
    layer.forward([], top)
    assert top[0].data.min() >= 2 and top[0].data.max() <= 3 and top[0].data.std() > 0.1


@pytest.mark.parametrize("text, n_top, match", [
    ('dummy_data_param { shape { dim: 1 } shape { dim: 2 } }', 3, "shape must be given once or once per top"),
    ('dummy_data_param { }', 1, "shape must be given once or once per top"),
    ('dummy_data_param { shape { dim: 1 } data_filler { } data_filler { } }', 3, "data_filler"),
    ('dummy_data_param { shape { dim: 1 } num: 1 channels: 1 height: 1 width: 1 }', 1, "not both"),
    ('dummy_data_param { num: 1 num: 2 channels: 1 channels: 1 height: 1 height: 1 width: 1 width: 1 }', 3,
     "num must be given once"),
    ('dummy_data_param { num: 1 channels: 1 height: 1 }', 1, "width"),
    ('dummy_data_param { shape { dim: 2 } data_filler { type: "nonsense" } }', 1, "unknown filler"),
])
def test_bad_params_rejected(text, n_top, match):
    with pytest.raises(ConfigError, match=match) as info:
        setup('type: "DummyData" ' + text, n_top)
    assert info.value.layer == "dummydata"
