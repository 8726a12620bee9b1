"""Dropout: TRAIN mask statistics and scaling, TEST identity, scale_train, reproducibility, gradients."""
import numpy as np
import pytest

from caffeine import backend
from caffeine.errors import ConfigError
from caffeine.proto import caffe_pb2
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(23)


def dropout_text(ratio=0.5):
    return f'type: "Dropout" dropout_param {{ dropout_ratio: {ratio} }}'


@pytest.mark.parametrize("ratio", [0.5, 0.3, 0.8])
def test_train_mask_statistics_and_scaling(ratio):
    backend.set_random_seed(1)
    x = np.ones((20, 50, 20), dtype=np.float32)
    _, _, top = run_layer(dropout_text(ratio), [x], phase=caffe_pb2.TRAIN, dtype=np.float32)
    y = top[0].data
    kept = y != 0
    # 20000 Bernoulli draws: the dropped fraction is within 5 standard deviations of the ratio
    sigma = np.sqrt(ratio * (1 - ratio) / x.size)
    assert abs((1 - kept.mean()) - ratio) < 5 * sigma
    np.testing.assert_allclose(y[kept], 1.0 / (1.0 - np.float32(ratio)), rtol=1e-6)


def test_test_phase_is_identity():
    x = RNG.standard_normal((4, 5))
    layer, bottom, top = run_layer(dropout_text(0.6), [x], phase=caffe_pb2.TEST)
    np.testing.assert_array_equal(top[0].data, x)
    top[0].diff[...] = RNG.standard_normal(x.shape)
    layer.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, top[0].diff)


def test_test_phase_in_place_is_identity():
    x = RNG.standard_normal((4, 5))
    layer = make_layer(dropout_text(), phase=caffe_pb2.TEST)
    b = blob_from(x)
    layer.layer_setup([b], [b])
    layer.forward([b], [b])
    np.testing.assert_array_equal(b.data, x)


def test_mask_is_kept_for_backward():
    backend.set_random_seed(3)
    x = RNG.standard_normal((6, 7)) + 5.0  # never zero, so y == 0 marks the dropped elements
    layer, bottom, top = run_layer(dropout_text(0.4), [x], phase=caffe_pb2.TRAIN)
    dropped = top[0].data == 0
    assert dropped.any() and not dropped.all()
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff == 0, dropped)
    np.testing.assert_allclose(bottom[0].diff[~dropped], 1.0 / (1.0 - np.float32(0.4)))


def test_reproducible_under_set_random_seed():
    x = RNG.standard_normal((10, 10))
    outs = []
    for seed in (5, 5, 6):
        backend.set_random_seed(seed)
        _, _, top = run_layer(dropout_text(), [x], phase=caffe_pb2.TRAIN)
        outs.append(top[0].data.copy())
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.any(outs[0] != outs[2])


def test_scale_train_false_scales_at_test():
    x = RNG.standard_normal((30, 40)) + 5.0
    backend.set_random_seed(2)
    train = make_layer(dropout_text(0.25), phase=caffe_pb2.TRAIN)
    train.layer_setup(blobs_from(x), empty_tops(1))
    train.scale_train = False  # BVLC's caffe.proto has no scale_train field (see test below)
    bottom, top = blobs_from(x), empty_tops(1)
    train.forward(bottom, top)
    kept = top[0].data != 0
    np.testing.assert_array_equal(top[0].data[kept], x[kept])  # mask only, no 1/(1-p)
    top[0].diff[...] = 2.0
    train.backward(top, [True], bottom)
    np.testing.assert_array_equal(bottom[0].diff, np.where(kept, 2.0, 0.0))

    test = make_layer(dropout_text(0.25), phase=caffe_pb2.TEST)
    test.layer_setup(blobs_from(x), empty_tops(1))
    test.scale_train = False
    bottom, top = blobs_from(x), empty_tops(1)
    test.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, x * 0.75)
    top[0].diff[...] = 2.0
    test.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, 1.5)


@pytest.mark.parametrize("phase", [caffe_pb2.TRAIN, caffe_pb2.TEST])
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(phase, inplace):
    x = RNG.standard_normal((2, 3, 4))
    layer = make_layer(dropout_text(0.3), phase=phase)
    if inplace:
        b = blob_from(x)
        check_gradient(layer, [b], [b])
    else:
        check_gradient(layer, blobs_from(x), empty_tops(1))


@pytest.mark.parametrize("ratio", [1.0, -0.1, 1.5])
def test_bad_ratio_rejected(ratio):
    with pytest.raises(ConfigError, match="dropout_ratio"):
        run_layer(dropout_text(ratio), [np.ones(3)])
