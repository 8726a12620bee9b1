"""Softmax layer: shape, forward vs torch and OpenCV dnn, gradients, bad params."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError
from caffeine.layers.softmax import softmax
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, make_layer, run_layer

RNG = np.random.default_rng(20240501)


def torch_softmax(x, axis):
    return F.softmax(torch.from_numpy(x), dim=axis).numpy()


def test_shape_follows_bottom():
    x = RNG.standard_normal((2, 3, 4, 5))
    _, _, top = run_layer('type: "Softmax"', [x])
    assert top[0].shape == (2, 3, 4, 5)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_forward_matches_torch(axis):
    x = RNG.standard_normal((2, 3, 4, 5)) * 3
    _, _, top = run_layer(f'type: "Softmax" softmax_param {{ axis: {axis} }}', [x])
    np.testing.assert_allclose(top[0].data, torch_softmax(x, axis), rtol=1e-12, atol=1e-15)


def test_default_axis_is_channels():
    x = RNG.standard_normal((3, 4, 2))
    _, _, top = run_layer('type: "Softmax"', [x])
    np.testing.assert_allclose(top[0].data, torch_softmax(x, 1), rtol=1e-12)
    np.testing.assert_allclose(top[0].data.sum(axis=1), 1.0, rtol=1e-12)


def test_large_inputs_do_not_overflow_float32():
    x = np.array([[1000.0, 999.0, -1000.0], [-5e4, -5e4, -5e4]], dtype=np.float32)
    _, _, top = run_layer('type: "Softmax"', [x], dtype=np.float32)
    out = top[0].data
    assert out.dtype == np.float32 and np.all(np.isfinite(out))
    np.testing.assert_allclose(out, torch_softmax(x.astype(np.float64), 1), rtol=1e-6, atol=1e-7)


def test_in_place_forward_and_backward():
    x = RNG.standard_normal((2, 4, 3))
    layer = make_layer('type: "Softmax"')
    (blob,) = blobs_from(x)
    layer.layer_setup([blob], [blob])
    layer.forward([blob], [blob])
    np.testing.assert_allclose(blob.data, torch_softmax(x, 1), rtol=1e-12)
    check_gradient(layer, [blob], [blob])


def test_backward_matches_torch_autograd():
    x = RNG.standard_normal((2, 3, 2, 2))
    dy = RNG.standard_normal(x.shape)
    layer, bottom, top = run_layer('type: "Softmax"', [x])
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    xt = torch.from_numpy(x).requires_grad_()
    F.softmax(xt, dim=1).backward(torch.from_numpy(dy))
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("axis", [1, 2, -1])
def test_gradient_with_spatial_dims(axis):
    x = RNG.standard_normal((2, 3, 2, 3))
    layer = make_layer(f'type: "Softmax" softmax_param {{ axis: {axis} }}')
    bottom = blobs_from(x)
    top = blobs_from(np.zeros(1))
    layer.layer_setup(bottom, top)
    check_gradient(layer, bottom, top)


def test_propagate_down_false_leaves_diff():
    x = RNG.standard_normal((2, 3))
    layer, bottom, top = run_layer('type: "Softmax"', [x])
    bottom[0].diff[...] = 7.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0)


@pytest.mark.parametrize("axis", [4, -5])
def test_bad_axis_rejected(axis):
    pattern = r"layer 'softmax' \(Softmax\): axis -?\d out of range.*softmax_param.axis"
    with pytest.raises(ConfigError, match=pattern):
        run_layer(f'type: "Softmax" softmax_param {{ axis: {axis} }}', [np.zeros((2, 3, 4, 5))])


def test_wrong_blob_counts_rejected():
    layer = make_layer('type: "Softmax"')
    with pytest.raises(ConfigError, match="wrong number of bottom blobs"):
        layer.layer_setup(blobs_from(np.zeros((2, 3)), np.zeros((2, 3))), blobs_from(np.zeros(1)))


def test_helper_is_stable_and_normalised():
    x = np.array([[710.0, 0.0], [0.0, -710.0]])
    out = softmax(x, axis=1)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_opencv_dnn_parity_axis1(tmp_path):
    cv2 = pytest.importorskip("cv2")
    from google.protobuf import text_format

    from caffeine.proto import caffe_pb2

    shape = [2, 5, 3, 4]
    net = caffe_pb2.NetParameter(name="softmax_parity")
    data = net.layer.add(name="data", type="Input", top=["data"])
    data.input_param.shape.add().dim.extend(shape)
    prob = net.layer.add(name="prob", type="Softmax", bottom=["data"], top=["prob"])
    prob.softmax_param.axis = 1
    path = tmp_path / "deploy.prototxt"
    path.write_text(text_format.MessageToString(net))

    x = (RNG.standard_normal(shape) * 4).astype(np.float32)
    cv_net = cv2.dnn.readNetFromCaffe(str(path))
    cv_net.setInput(x)
    expected = cv_net.forward("prob")

    _, _, top = run_layer('type: "Softmax" softmax_param { axis: 1 }', [x], dtype=np.float32)
    assert top[0].data.shape == expected.shape
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-5, atol=1e-7)
