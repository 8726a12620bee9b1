import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(12)
VARIANTS = [(nv, ac) for nv in (True, False) for ac in (True, False)]


def caffe_mvn(x, normalize_variance, across_channels, eps):
    """Caffe's MVNLayer::Forward_cpu: subtract the row mean, divide by (std + eps)."""
    n, c = x.shape[:2]
    rows = x.reshape(n, -1) if across_channels else x.reshape(n * c, -1)
    out = rows - rows.mean(axis=1, keepdims=True)
    if normalize_variance:
        out = out / (np.sqrt((out ** 2).mean(axis=1, keepdims=True)) + eps)
    return out.reshape(x.shape)


def text(nv, ac, eps=None):
    e = f" eps: {eps}" if eps is not None else ""
    return f'type: "MVN" mvn_param {{ normalize_variance: {str(nv).lower()} across_channels: {str(ac).lower()}{e} }}'


@pytest.mark.parametrize("nv,ac", VARIANTS)
def test_forward_matches_caffe_formula(nv, ac):
    x = RNG.standard_normal((2, 3, 4, 5)) * 2 + 1
    _, _, top = run_layer(text(nv, ac), [x])
    assert top[0].shape == x.shape
    np.testing.assert_allclose(top[0].data, caffe_mvn(x, nv, ac, float(np.float32(1e-9))), rtol=1e-12, atol=1e-14)


def test_eps_is_added_to_the_std_not_the_variance():
    x = RNG.standard_normal((2, 2, 3, 3)) * 0.5
    _, _, top = run_layer(text(True, False, 0.5), [x])
    np.testing.assert_allclose(top[0].data, caffe_mvn(x, True, False, 0.5), rtol=1e-12)
    rows = x.reshape(4, -1)
    var_eps = ((rows - rows.mean(1, keepdims=True)) / np.sqrt(rows.var(1, keepdims=True) + 0.5)).reshape(x.shape)
    assert not np.allclose(top[0].data, var_eps, rtol=1e-3)


def test_constant_rows_give_zero_not_nan():
    layer, bottom, top = run_layer(text(True, False), [np.full((1, 2, 2, 2), 3.0)])
    assert np.all(top[0].data == 0)
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    assert np.all(np.isfinite(bottom[0].diff))


@pytest.mark.parametrize("nv,ac", VARIANTS)
@pytest.mark.parametrize("eps", [None, 0.3])
def test_gradient(nv, ac, eps):
    layer = make_layer(text(nv, ac, eps))
    check_gradient(layer, blobs_from(RNG.standard_normal((2, 3, 2, 2))), empty_tops(1))


@pytest.mark.parametrize("nv,ac", VARIANTS)
def test_gradient_in_place(nv, ac):
    layer = make_layer(text(nv, ac, 0.1))
    bottom = blobs_from(RNG.standard_normal((2, 2, 3)))
    check_gradient(layer, bottom, [bottom[0]])


def test_propagate_down_false_leaves_diff():
    layer, bottom, top = run_layer(text(True, True), [RNG.standard_normal((2, 2, 2))])
    bottom[0].diff[...] = 4.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 4.0)


def test_wrong_blob_counts_rejected():
    with pytest.raises(ConfigError, match="wrong number of bottom"):
        run_layer(text(True, True), [np.zeros((2, 2)), np.zeros((2, 2))])
