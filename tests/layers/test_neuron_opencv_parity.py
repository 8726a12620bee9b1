"""Neuron layers against OpenCV's Caffe importer (cv2.dnn.readNetFromCaffe) on one deploy net.

The prototxt and a caffemodel (PReLU slopes) are written with caffe_pb2, so the
test also checks that the files caffeine's layers read are the ones OpenCV reads.
"""
import numpy as np
import pytest
from google.protobuf import text_format

from caffeine.proto import caffe_pb2
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer

cv2 = pytest.importorskip("cv2")

SHAPE = (2, 3, 4, 5)
SLOPES = np.array([0.25, -0.5, 0.75], dtype=np.float32)
# name -> (type, parameter text); every layer reads "data" and writes its own top
LAYERS = {
    "leaky": ("ReLU", "relu_param { negative_slope: 0.1 }"),
    "prelu": ("PReLU", ""),
    "elu": ("ELU", "elu_param { alpha: 0.7 }"),
    "power": ("Power", "power_param { power: 1.5 scale: 0.5 shift: 2 }"),
    "sigmoid": ("Sigmoid", ""),
    "tanh": ("TanH", ""),
    "absval": ("AbsVal", ""),
    "bnll": ("BNLL", ""),
}


def layer_text(name, type_, params):
    return f'name: "{name}" type: "{type_}" bottom: "data" top: "{name}" {params}'


@pytest.fixture
def opencv_outputs(tmp_path):
    x = np.random.default_rng(30).uniform(-3, 3, size=SHAPE).astype(np.float32)
    deploy = caffe_pb2.NetParameter(name="neurons")
    text_format.Parse('name: "data" type: "Input" top: "data" '
                      'input_param { shape { dim: %d dim: %d dim: %d dim: %d } }' % SHAPE, deploy.layer.add())
    for name, (type_, params) in LAYERS.items():
        text_format.Parse(layer_text(name, type_, params), deploy.layer.add())
    (tmp_path / "deploy.prototxt").write_text(text_format.MessageToString(deploy))

    weights = caffe_pb2.NetParameter(name="neurons")
    prelu = weights.layer.add(name="prelu", type="PReLU")
    blob = prelu.blobs.add()
    blob.shape.dim.append(len(SLOPES))
    blob.data.extend(SLOPES.tolist())
    (tmp_path / "w.caffemodel").write_bytes(weights.SerializeToString())

    net = cv2.dnn.readNetFromCaffe(str(tmp_path / "deploy.prototxt"), str(tmp_path / "w.caffemodel"))
    net.setInput(x)
    outs = net.forward(list(LAYERS))
    return x, dict(zip(LAYERS, outs))


@pytest.mark.parametrize("name", list(LAYERS))
def test_matches_opencv_dnn(opencv_outputs, name):
    x, expected = opencv_outputs
    type_, params = LAYERS[name]
    layer = make_layer(layer_text(name, type_, params), phase=caffe_pb2.TEST)
    bottom, top = [blob_from(x, dtype=np.float32)], empty_tops(1, dtype=np.float32)
    layer.layer_setup(bottom, top)
    if type_ == "PReLU":
        layer.blobs[0].data[...] = SLOPES
    layer.forward(bottom, top)
    ref = expected[name]
    assert ref.shape == top[0].shape
    np.testing.assert_allclose(top[0].data, ref, rtol=1e-5)
