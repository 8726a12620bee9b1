"""Structural and normalization layers against OpenCV's Caffe importer.

Each case is a small deploy net written with caffe_pb2 (prototxt + caffemodel holding
the BatchNorm / Scale blobs); OpenCV (cv2.dnn.readNetFromCaffe) runs it, and the same
layers are chained here by hand in float32 (no Net needed), in-place where the
prototxt is in-place.
"""
import numpy as np
import pytest
from google.protobuf import text_format

from caffeine.blob import Blob
from caffeine.proto import caffe_pb2
from caffeine.testing.layer_helpers import make_layer

cv2 = pytest.importorskip("cv2")

RNG = np.random.default_rng(31)
C = 3
BN_BLOBS = [RNG.standard_normal(C) * 2.0, RNG.uniform(0.5, 2.0, C) * 2.0, np.array([2.0])]
SCALE_BLOBS = [RNG.uniform(0.5, 1.5, C), RNG.standard_normal(C)]

# name -> (inputs {name: shape}, [layer text], {layer: [blob arrays]}, [layers whose tops are compared])
CASES = {
    "batchnorm_scale": (
        {"data": (2, C, 4, 5)},
        ['name: "bn" type: "BatchNorm" bottom: "data" top: "data" batch_norm_param { eps: 0.001 }',
         'name: "sc" type: "Scale" bottom: "data" top: "data" scale_param { bias_term: true }'],
        {"bn": BN_BLOBS, "sc": SCALE_BLOBS}, ["sc"]),
    "eltwise": (
        {"a": (2, C, 3, 3), "b": (2, C, 3, 3), "c": (2, C, 3, 3)},
        ['name: "sum" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "sum" '
         'eltwise_param { operation: SUM coeff: 0.5 coeff: -2 coeff: 1.5 }',
         'name: "prod" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "prod" '
         'eltwise_param { operation: PROD }',
         'name: "max" type: "Eltwise" bottom: "a" bottom: "b" bottom: "c" top: "max" eltwise_param { operation: MAX }'],
        {}, ["sum", "prod", "max"]),
    "concat": (
        {"a": (2, 2, 3, 3), "b": (2, 4, 3, 3)},
        ['name: "cat" type: "Concat" bottom: "a" bottom: "b" top: "cat" concat_param { axis: 1 }'],
        {}, ["cat"]),
    "slice": (
        {"data": (2, 6, 3, 2)},
        ['name: "sl" type: "Slice" bottom: "data" top: "s0" top: "s1" top: "s2" '
         'slice_param { axis: 1 slice_point: 1 slice_point: 4 }'],
        {}, ["sl"]),
    "crop": (
        {"data": (1, 2, 7, 8), "ref": (1, 2, 4, 5)},
        ['name: "crop" type: "Crop" bottom: "data" bottom: "ref" top: "crop" '
         'crop_param { axis: 2 offset: 1 offset: 2 }'],
        {}, ["crop"]),
    "mvn": (
        {"data": (2, C, 4, 4)},
        ['name: "mvn" type: "MVN" bottom: "data" top: "mvn"',
         'name: "mvn_across" type: "MVN" bottom: "data" top: "mvn_across" mvn_param { across_channels: true }',
         'name: "mean_only" type: "MVN" bottom: "data" top: "mean_only" mvn_param { normalize_variance: false }'],
        {}, ["mvn", "mvn_across", "mean_only"]),
    "reshape": (
        {"data": (2, C, 4, 2)},
        ['name: "rs" type: "Reshape" bottom: "data" top: "rs" reshape_param { shape { dim: 0 dim: -1 dim: 4 } }',
         'name: "post" type: "Scale" bottom: "rs" top: "post" scale_param { axis: 1 num_axes: 1 }'],
        {"post": [np.array([0.5, -1.0, 2.0, 3.0, 1.5, -0.25])]}, ["post"]),
}


def write_net(tmp_path, inputs, layers, blobs):
    deploy = caffe_pb2.NetParameter(name="parity")
    for name, shape in inputs.items():
        dims = " ".join(f"dim: {d}" for d in shape)
        text_format.Parse(f'name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ {dims} }} }}',
                          deploy.layer.add())
    for text in layers:
        text_format.Parse(text, deploy.layer.add())
    weights = caffe_pb2.NetParameter()
    weights.CopyFrom(deploy)
    for layer in weights.layer:
        for array in blobs.get(layer.name, []):
            b = layer.blobs.add()
            b.shape.dim.extend(array.shape)
            b.data.extend(np.asarray(array, dtype=np.float32).ravel().tolist())
    (tmp_path / "deploy.prototxt").write_text(text_format.MessageToString(deploy))
    (tmp_path / "w.caffemodel").write_bytes(weights.SerializeToString())
    return str(tmp_path / "deploy.prototxt"), str(tmp_path / "w.caffemodel")


def run_caffeine(inputs_data, layers, blobs):
    outputs = {}
    env = {name: Blob(x.shape, dtype=np.float32, name=name) for name, x in inputs_data.items()}
    for name, x in inputs_data.items():
        env[name].data[...] = x
    for text in layers:
        layer = make_layer(text, phase=caffe_pb2.TEST)
        p = layer.layer_param
        bottom = [env[n] for n in p.bottom]
        top = [env[n] if n in p.bottom else Blob(dtype=np.float32, name=n) for n in p.top]
        layer.layer_setup(bottom, top)
        for blob, array in zip(layer.blobs, blobs.get(p.name, [])):
            assert blob.shape == array.shape
            blob.data[...] = array
        layer.forward(bottom, top)
        env.update(zip(p.top, top))
        outputs[p.name] = [t.data.copy() for t in top]
    return outputs


@pytest.mark.parametrize("case", list(CASES))
def test_matches_opencv_dnn(tmp_path, case):
    inputs, layers, blobs, outputs = CASES[case]
    data = {name: RNG.uniform(-2, 2, shape).astype(np.float32) for name, shape in inputs.items()}
    net = cv2.dnn.readNetFromCaffe(*write_net(tmp_path, inputs, layers, blobs))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    for name, x in data.items():
        net.setInput(x, name)
    expected = net.forwardAndRetrieve(outputs)  # every top of each named layer
    ours = run_caffeine(data, layers, blobs)
    for name, refs in zip(outputs, expected):
        assert len(ours[name]) == len(refs), name
        for k, (mine, ref) in enumerate(zip(ours[name], refs)):
            assert mine.shape == ref.shape, (name, k)
            np.testing.assert_allclose(mine, ref, rtol=1e-5, atol=1e-5 * float(np.abs(ref).max()),
                                       err_msg=f"{name} top {k}")
