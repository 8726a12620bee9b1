import numpy as np
import pytest

from caffeine import backend
from caffeine.blob import Blob
from caffeine.errors import LayerConfigError
from caffeine.fillers import fill
from caffeine.proto import caffe_pb2


def _fill(shape, **kw):
    backend.set_random_seed(1701)
    return fill(Blob(*shape), caffe_pb2.FillerParameter(**kw)).data


def test_constant_and_uniform():
    assert np.all(_fill((3, 4), type="constant", value=2.5) == 2.5)
    u = _fill((200, 50), type="uniform", min=-2, max=3)
    assert u.min() >= -2 and u.max() <= 3 and abs(u.mean() - 0.5) < 0.05


def test_gaussian_moments_and_sparse():
    g = _fill((400, 100), type="gaussian", mean=1, std=2)
    assert abs(g.mean() - 1) < 0.03 and abs(g.std() - 2) < 0.03
    s = _fill((100, 1000), type="gaussian", std=1, sparse=10)
    # each of the 100 outputs keeps ~10/100 of its weights
    assert abs((s != 0).mean() - 0.1) < 0.01


def test_xavier_and_msra_use_caffe_fan_in():
    x = _fill((64, 20, 5, 5), type="xavier")
    scale = np.sqrt(3.0 / (20 * 25))
    assert x.max() <= scale and x.min() >= -scale and x.max() > 0.95 * scale
    xo = _fill((64, 20, 5, 5), type="xavier", variance_norm=caffe_pb2.FillerParameter.FAN_OUT)
    assert xo.max() <= np.sqrt(3.0 / (64 * 25))
    m = _fill((256, 100, 3, 3), type="msra", variance_norm=caffe_pb2.FillerParameter.AVERAGE)
    assert abs(m.std() - np.sqrt(2.0 / ((900 + 256 * 9) / 2))) < 0.002


def test_positive_unitball_rows_sum_to_one():
    p = _fill((5, 3, 2), type="positive_unitball")
    np.testing.assert_allclose(p.reshape(5, -1).sum(1), 1, rtol=1e-6)
    assert p.min() >= 0


def test_bilinear_matches_upsampling_kernel():
    b = _fill((1, 1, 4, 4), type="bilinear")
    k1 = np.array([0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(b[0, 0], np.outer(k1, k1), rtol=1e-6)


def test_bad_filler():
    with pytest.raises(LayerConfigError, match="unknown filler type 'gausian'"):
        _fill((2,), type="gausian")
    with pytest.raises(LayerConfigError, match="sparsity"):
        _fill((2, 2), type="xavier", sparse=3)


def test_seed_reproducible():
    np.testing.assert_array_equal(_fill((10,), type="gaussian"), _fill((10,), type="gaussian"))
