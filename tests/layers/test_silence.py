import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer


def test_no_tops_and_backward_zeroes_only_propagated_diffs():
    layer = make_layer('type: "Silence"')
    bottom = blobs_from(np.ones((2, 3)), np.ones(4))
    layer.layer_setup(bottom, [])
    assert layer.forward(bottom, []) == 0.0
    for b in bottom:
        b.diff[...] = 3.0
    layer.backward([], [True, False], bottom)
    assert np.all(bottom[0].diff == 0.0)
    assert np.all(bottom[1].diff == 3.0)
    np.testing.assert_array_equal(bottom[0].data, 1.0)


def test_tops_rejected():
    layer = make_layer('type: "Silence"')
    with pytest.raises(ConfigError, match="wrong number of top"):
        layer.layer_setup(blobs_from(np.ones(2)), empty_tops(1))
    with pytest.raises(ConfigError, match="wrong number of bottom"):
        make_layer('type: "Silence"').layer_setup([], [])
