"""ONNX export: the exported graph run by onnxruntime matches caffeine's forward pass
(max |difference| / max |value| <= 1e-5) on random weights, for the zoo nets and a net built
to hit every exported layer type and Caffe's pooling/rounding corner cases."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import caffeine
from caffeine.errors import ConfigError
from caffeine.export_onnx import net_to_onnx
from caffeine.net import Net
from caffeine.proto import io as proto_io

ort = pytest.importorskip("onnxruntime")
REPO = Path(__file__).resolve().parents[2]


def _session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-30))


def _net(source, batch=2, seed=11):
    caffeine.set_random_seed(seed)
    param = source if not isinstance(source, (str, Path)) else None
    net = Net(param if param is not None else str(source), phase=caffeine.TEST)
    name = net.inputs[0]
    shape = (batch,) + tuple(net.blobs[name].shape[1:])
    net.blobs[name].reshape(*shape)
    net.reshape()
    rng = np.random.default_rng(seed)
    for layer in net.layers:             # every parameter random, biases and statistics included
        for blob in layer.blobs:
            blob.data[...] = rng.normal(0, 0.1, blob.shape)
        if layer.type == "BatchNorm":
            layer.blobs[1].data[...] = rng.uniform(0.5, 2.0, layer.blobs[1].shape)
            layer.blobs[2].data[...] = 0.8
    return net, name, rng.standard_normal(shape).astype(np.float32) * 10


def _check(net, name, x, blobs=()):
    model = net_to_onnx(net, extra_outputs=list(blobs))
    got = _session(model).run(None, {name: x})
    ref = net.forward(**{name: x})
    wanted = list(net.outputs) + [b for b in blobs if b not in net.outputs]
    for blob, value in zip(wanted, got):
        expected = ref[blob] if blob in ref else net.blobs[blob].data
        assert value.shape == expected.shape, blob
        assert _rel(value, expected) <= 1e-5, (blob, _rel(value, expected))
    return model


def _logits(net):
    return [net.bottom_names[net.layer_names[-1]][0]]


@pytest.mark.parametrize("name", ["lenet", "cifar10_quick", "cifar10_full", "squeezenet_v1.1", "mobilenet_v1"])
def test_zoo_deploy_matches_onnxruntime(name):
    net, input_name, x = _net(REPO / "models" / name / "deploy.prototxt")
    _check(net, input_name, x, _logits(net))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bvlc_reference_caffenet", "bvlc_googlenet", "resnet50"])
def test_big_zoo_deploy_matches_onnxruntime(name):
    net, input_name, x = _net(REPO / "models" / name / "deploy.prototxt", batch=1)
    _check(net, input_name, x, _logits(net))


def test_batch_is_symbolic():
    net, name, x = _net(REPO / "models" / "cifar10_quick" / "deploy.prototxt", batch=2)
    sess = _session(net_to_onnx(net))
    x5 = np.random.default_rng(1).standard_normal((5, 3, 32, 32)).astype(np.float32)
    out5 = sess.run(None, {name: x5})[0]
    net.blobs[name].reshape(5, 3, 32, 32)
    net.reshape()
    assert _rel(out5, net.forward(data=x5)["prob"]) <= 1e-5


EVERYTHING = """
name: "everything"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 11 dim: 13 } } }
layer { name: "split_me" type: "Convolution" bottom: "data" top: "c1"
        convolution_param { num_output: 6 kernel_h: 3 kernel_w: 1 stride: 2 pad_h: 1 pad_w: 0 } }
layer { name: "dil" type: "Convolution" bottom: "data" top: "c2"
        convolution_param { num_output: 6 kernel_size: 3 dilation: 2 pad: 2 stride: 2 group: 2 bias_term: false } }
layer { name: "prelu" type: "PReLU" bottom: "c2" top: "c2" }
layer { name: "sum" type: "Eltwise" bottom: "c1" bottom: "c2" top: "sum" eltwise_param { operation: SUM coeff: 0.5 coeff: -2 } }
layer { name: "prod" type: "Eltwise" bottom: "c1" bottom: "sum" bottom: "c2" top: "prod" eltwise_param { operation: PROD } }
layer { name: "max" type: "Eltwise" bottom: "prod" bottom: "sum" top: "max" eltwise_param { operation: MAX } }
layer { name: "bn" type: "BatchNorm" bottom: "max" top: "max" batch_norm_param { eps: 0.001 } }
layer { name: "scale" type: "Scale" bottom: "max" top: "max" scale_param { bias_term: true } }
layer { name: "bias" type: "Bias" bottom: "max" top: "biased" }
layer { name: "leaky" type: "ReLU" bottom: "biased" top: "biased" relu_param { negative_slope: 0.1 } }
layer { name: "avepad" type: "Pooling" bottom: "biased" top: "p1" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "maxceil" type: "Pooling" bottom: "biased" top: "p2" pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 } }
layer { name: "cat" type: "Concat" bottom: "p1" bottom: "p2" top: "cat" }
layer { name: "lrn" type: "LRN" bottom: "cat" top: "lrn" lrn_param { local_size: 3 alpha: 0.5 beta: 0.75 k: 2 } }
layer { name: "lrnw" type: "LRN" bottom: "lrn" top: "lrnw" lrn_param { local_size: 3 alpha: 0.3 beta: 0.75 norm_region: WITHIN_CHANNEL } }
layer { name: "deconv" type: "Deconvolution" bottom: "lrnw" top: "up" convolution_param { num_output: 3 kernel_size: 4 stride: 2 pad: 1 } }
layer { name: "sig" type: "Sigmoid" bottom: "up" top: "sig" }
layer { name: "tanh" type: "TanH" bottom: "up" top: "tanh" }
layer { name: "abs" type: "AbsVal" bottom: "tanh" top: "abs" }
layer { name: "bnll" type: "BNLL" bottom: "up" top: "bnll" }
layer { name: "elu" type: "ELU" bottom: "up" top: "elu" elu_param { alpha: 0.7 } }
layer { name: "pow" type: "Power" bottom: "abs" top: "pow" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "mix" type: "Eltwise" bottom: "sig" bottom: "pow" bottom: "bnll" bottom: "elu" top: "mix" }
layer { name: "drop" type: "Dropout" bottom: "mix" top: "mix" }
layer { name: "gap" type: "Pooling" bottom: "mix" top: "gap" pooling_param { pool: AVE global_pooling: true } }
layer { name: "reshape" type: "Reshape" bottom: "mix" top: "r" reshape_param { shape { dim: 0 dim: -1 dim: 4 } } }
layer { name: "flat" type: "Flatten" bottom: "r" top: "flat" }
layer { name: "ip" type: "InnerProduct" bottom: "flat" top: "ip" inner_product_param { num_output: 7 } }
layer { name: "ipt" type: "InnerProduct" bottom: "ip" top: "ipt" inner_product_param { num_output: 5 transpose: true } }
layer { name: "prob" type: "Softmax" bottom: "ipt" top: "prob" }
"""


def test_every_exported_layer_type():
    net, name, x = _net(proto_io.parse_net_text(EVERYTHING))
    # Caffe's ceil rounding (and, for p2's width, its rule dropping a window that starts in the
    # padding) give 4x4 from 6x7 where ONNX's floor would give 3x3 / 4x4
    assert net.blobs["max"].shape[2:] == (6, 7)
    assert net.blobs["p1"].shape[2:] == (4, 4) and net.blobs["p2"].shape[2:] == (4, 4)
    model = _check(net, name, x, ["c1", "c2", "sum", "prod", "max", "p1", "p2", "lrn", "lrnw", "up", "pow",
                                  "mix", "gap", "r", "flat", "ip"])
    ops = {n.op_type for n in model.graph.node}
    assert {"Conv", "ConvTranspose", "PRelu", "Sum", "BatchNormalization", "LeakyRelu", "AveragePool", "MaxPool",
            "LRN", "Sigmoid", "Tanh", "Abs", "Softplus", "Elu", "Pow", "GlobalAveragePool", "Reshape", "Flatten",
            "Gemm", "Softmax", "Concat", "Max", "Mul"} <= ops


def test_unsupported_layer_is_named():
    text = EVERYTHING.replace('type: "Sigmoid"', 'type: "Swish"')
    net, _, _ = _net(proto_io.parse_net_text(text))
    with pytest.raises(ConfigError, match="layer type 'Swish' has no ONNX export"):
        net_to_onnx(net)


def test_cli_exports_a_caffemodel(tmp_path):
    net, name, x = _net(REPO / "models" / "lenet" / "deploy.prototxt", batch=3)
    weights = tmp_path / "lenet_random.caffemodel"
    net.save(str(weights))
    out = tmp_path / "lenet.onnx"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "caffeine.cli.main", "export", "--format", "onnx",
           str(REPO / "models" / "lenet" / "deploy.prototxt"), str(weights), str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    import onnx
    sess = _session(onnx.load(str(out)))
    assert _rel(sess.run(None, {name: x})[0], net.forward(data=x)["prob"]) <= 1e-5
    bad = subprocess.run(cmd[:4] + ["tflite"] + cmd[5:], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "onnx" in bad.stderr and "Traceback" not in bad.stderr
