import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.proto import caffe_pb2
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer

RNG = np.random.default_rng(11)


def setup_bn(x, text="", phase=caffe_pb2.TRAIN, in_place=False):
    layer = make_layer(f'type: "BatchNorm" {text}', phase)
    bottom = blobs_from(x)
    top = [bottom[0]] if in_place else empty_tops(1)
    layer.layer_setup(bottom, top)
    return layer, bottom, top


@pytest.mark.parametrize("shape", [(4, 3, 2, 5), (6, 3), (2, 3, 4)])
def test_train_forward_matches_torch_batch_statistics(shape):
    x = RNG.standard_normal(shape) * 3 + 1
    layer, bottom, top = setup_bn(x, "batch_norm_param { eps: 0.001 }")
    assert not layer.use_global_stats
    layer.forward(bottom, top)
    expect = torch.batch_norm(torch.from_numpy(x), None, None, None, None, True, 0.0, 0.001, False).numpy()
    assert top[0].shape == shape
    np.testing.assert_allclose(top[0].data, expect, rtol=1e-10, atol=1e-12)


def test_global_stats_forward_matches_torch_with_the_same_statistics():
    x = RNG.standard_normal((3, 4, 2, 2))
    mean, var, s = RNG.standard_normal(4), RNG.uniform(0.5, 2, 4), 2.5
    layer, bottom, top = setup_bn(x, phase=caffe_pb2.TEST)
    assert layer.use_global_stats  # default in TEST
    layer.blobs[0].data[...] = mean * s
    layer.blobs[1].data[...] = var * s
    layer.blobs[2].data[...] = s
    layer.forward(bottom, top)
    expect = torch.batch_norm(torch.from_numpy(x), None, None, torch.from_numpy(mean), torch.from_numpy(var),
                              False, 0.0, 1e-5, False).numpy()
    np.testing.assert_allclose(top[0].data, expect, rtol=1e-6)
    assert np.all(layer.blobs[2].data == s)  # no update with global stats


def test_zero_normalizer_means_zero_statistics():
    x = RNG.standard_normal((2, 3))
    layer, bottom, top = setup_bn(x, "batch_norm_param { use_global_stats: true eps: 0.25 }")
    layer.blobs[0].data[...] = 5.0
    layer.forward(bottom, top)
    np.testing.assert_allclose(top[0].data, x / 0.5, rtol=1e-12)


def test_moving_average_update_over_several_forwards():
    f, shape = 0.9, (4, 3, 2, 2)
    layer, bottom, top = setup_bn(np.zeros(shape), f"batch_norm_param {{ moving_average_fraction: {f} }}")
    s, m_sum, v_sum = 0.0, np.zeros(3), np.zeros(3)
    f = float(np.float32(f))  # the proto field is a float
    m = 4 * 2 * 2
    for _ in range(3):
        x = RNG.standard_normal(shape) * 2 + 0.5
        bottom[0].data[...] = x
        layer.forward(bottom, top)
        mean = x.mean(axis=(0, 2, 3))
        var = ((x - mean[None, :, None, None]) ** 2).mean(axis=(0, 2, 3))
        s = s * f + 1
        m_sum = m_sum * f + mean
        v_sum = v_sum * f + var * m / (m - 1)
    np.testing.assert_allclose(layer.blobs[2].data, [s], rtol=1e-12)
    np.testing.assert_allclose(layer.blobs[0].data, m_sum, rtol=1e-12)
    np.testing.assert_allclose(layer.blobs[1].data, v_sum, rtol=1e-12)
    # the stored estimates then reproduce a global-stats forward
    x = RNG.standard_normal(shape)
    bottom[0].data[...] = x
    layer.use_global_stats = True
    layer.forward(bottom, top)
    expect = (x - (m_sum / s)[None, :, None, None]) / np.sqrt(v_sum / s + 1e-5)[None, :, None, None]
    np.testing.assert_allclose(top[0].data, expect, rtol=1e-5)


def test_statistics_are_not_learned():
    layer, bottom, top = setup_bn(RNG.standard_normal((2, 3, 2)))
    assert [p.lr_mult for p in layer.layer_param.param] == [0.0, 0.0, 0.0]
    assert layer.param_propagate_down == [False, False, False]
    assert [b.shape for b in layer.blobs] == [(3,), (3,), (1,)]
    layer.forward(bottom, top)
    top[0].diff[...] = 1.0
    layer.backward(top, [True], bottom)
    assert all(np.all(b.diff == 0) for b in layer.blobs)
    with pytest.raises(ConfigError, match="lr_mult"):
        setup_bn(np.zeros((2, 3)), "param { lr_mult: 0 } param { lr_mult: 1 }")
    setup_bn(np.zeros((2, 3)), "param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 }")


@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_train(in_place):
    layer, bottom, top = setup_bn(RNG.standard_normal((3, 2, 2, 2)), "batch_norm_param { eps: 0.01 }",
                                  in_place=in_place)
    check_gradient(layer, bottom, top, check_params=False)


@pytest.mark.parametrize("in_place", [False, True])
def test_gradient_global(in_place):
    layer, bottom, top = setup_bn(RNG.standard_normal((3, 2, 3)), "batch_norm_param { use_global_stats: true }",
                                  in_place=in_place)
    layer.blobs[0].data[...] = [0.3, -1.0]
    layer.blobs[1].data[...] = [1.5, 0.4]
    layer.blobs[2].data[...] = 0.8
    check_gradient(layer, bottom, top, check_params=False)


def test_bad_input():
    with pytest.raises(ConfigError, match="at least 2 axes"):
        setup_bn(np.zeros(5))
    layer, bottom, top = setup_bn(np.zeros((2, 3)))
    bottom[0].reshape(2, 4)
    with pytest.raises(ConfigError, match="channels"):
        layer.forward(bottom, top)
