"""Threshold: y = x > t ? 1 : 0, in place, and no gradient."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import blob_from, make_layer, run_layer

RNG = np.random.default_rng(21)


@pytest.mark.parametrize("t", [0.0, 0.5, -1.25])
def test_forward_matches_torch(t):
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    x[0, 0, 0] = t  # strictly greater: equal gives 0
    _, _, top = run_layer(f'type: "Threshold" threshold_param {{ threshold: {t} }}', [x], dtype=np.float32)
    assert top[0].shape == x.shape
    expected = (torch.from_numpy(x) > t).float().numpy()
    np.testing.assert_array_equal(top[0].data, expected)
    assert top[0].data[0, 0, 0] == 0.0


def test_in_place():
    x = RNG.standard_normal((3, 4))
    layer = make_layer('type: "Threshold"')
    b = blob_from(x)
    layer.layer_setup([b], [b])
    layer.forward([b], [b])
    np.testing.assert_array_equal(b.data, (x > 0).astype(np.float64))


def test_backward_is_refused_clearly():
    layer, bottom, top = run_layer('type: "Threshold"', [RNG.standard_normal(4)])
    top[0].diff[...] = 1.0
    with pytest.raises(ConfigError, match="no gradient"):
        layer.backward(top, [True], bottom)
    bottom[0].diff[...] = 3.0
    layer.backward(top, [False], bottom)  # nothing asked, nothing done
    assert np.all(bottom[0].diff == 3.0)
    assert not layer.allow_force_backward(0)
