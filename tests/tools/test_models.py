"""Every models/*/deploy.prototxt builds on the CPU, has the published parameter count, and runs
a forward pass on a random input that OpenCV's Caffe importer (an independent implementation
of the same layers) reproduces from the same random weights.

Parameter counts.  ``learnable`` is what papers publish (weights, biases, Scale's gamma/beta);
``stored`` adds BatchNorm's running statistics, which Caffe keeps in the caffemodel:
- ResNet-50: published 25,557,032 (torchvision's count). KaimingHe's Caffe model also gives
  conv1 a bias (+64) -> 25,557,096 learnable; + BatchNorm mean/variance 2 x 26,560 and one
  scale factor per BatchNorm layer (53) -> 25,610,269 stored.
- MobileNet v1: published 4,231,976; + 2 x 10,944 statistics + 27 scale factors -> 4,253,891.
- GoogLeNet: 6,998,552 is the deploy net (no auxiliary classifiers).
The large nets are marked slow; the default suite keeps the fast ones.
"""
from pathlib import Path

import numpy as np
import pytest

import caffeine
from caffeine.cli.summary import param_counts
from caffeine.net import Net

REPO = Path(__file__).resolve().parents[2]

# name: (learnable, stored, output shape for one image)
PUBLISHED = {
    "cifar10_quick": (145_578, 145_578, (1, 10)),
    "cifar10_full": (89_578, 89_578, (1, 10)),
    "squeezenet_v1.1": (1_235_496, 1_235_496, (1, 1000, 1, 1)),
    "mobilenet_v1": (4_231_976, 4_253_891, (1, 1000, 1, 1)),
    "bvlc_reference_caffenet": (60_965_224, 60_965_224, (1, 1000)),
    "bvlc_alexnet": (60_965_224, 60_965_224, (1, 1000)),
    "bvlc_googlenet": (6_998_552, 6_998_552, (1, 1000)),
    "vgg16": (138_357_544, 138_357_544, (1, 1000)),
    "resnet50": (25_557_032 + 64, 25_557_032 + 64 + 2 * 26_560 + 53, (1, 1000)),
}
FAST = ["cifar10_quick", "cifar10_full", "squeezenet_v1.1", "mobilenet_v1"]
SLOW = [m for m in PUBLISHED if m not in FAST]
NO_OPENCV = {"vgg16"}   # 550 MB of random weights to serialize twice: count and forward only
MODEL_PARAMS = [pytest.param(m, id=m) for m in FAST] + [pytest.param(m, id=m, marks=pytest.mark.slow) for m in SLOW]


def test_every_model_folder_is_covered():
    folders = {p.parent.name for p in (REPO / "models").glob("*/deploy.prototxt")} - {"lenet"}
    assert folders == set(PUBLISHED)
    for name in PUBLISHED:
        for f in ("train_val.prototxt", "deploy.prototxt", "solver.prototxt", "readme.md"):
            assert (REPO / "models" / name / f).is_file(), (name, f)


def _build(name):
    caffeine.set_random_seed(1701)
    return Net(str(REPO / "models" / name / "deploy.prototxt"), phase=caffeine.TEST)


def _one_image(net):
    """Batch of 1 (the deploy files say 10 for the ImageNet nets) and BatchNorm statistics that
    keep activations in range (fresh ones are 0 with scale factor 0, which blows up 27 layers deep)."""
    name = net.inputs[0]
    net.blobs[name].reshape(1, *net.blobs[name].shape[1:])
    net.reshape()
    rng = np.random.default_rng(7)
    for layer in net.layers:
        if layer.type == "BatchNorm":
            c = layer.blobs[0].count()
            layer.blobs[0].data[...] = rng.normal(0, 0.1, c)
            layer.blobs[1].data[...] = rng.uniform(0.5, 1.5, c)
            layer.blobs[2].data[...] = 1.0
    return name, rng.standard_normal(net.blobs[name].shape).astype(np.float32) * 50


def _opencv_forward(net, name, x, tmp_path):
    import cv2
    weights = tmp_path / "random.caffemodel"
    net.save(str(weights))
    cv_net = cv2.dnn.readNetFromCaffe(str(REPO / "models" / name / "deploy.prototxt"), str(weights))
    cv_net.setInput(x)
    return cv_net.forward()


@pytest.mark.parametrize("name", MODEL_PARAMS)
def test_deploy_net_builds_counts_and_runs(name, tmp_path):
    learnable, stored, out_shape = PUBLISHED[name]
    net = _build(name)
    assert param_counts(net) == (learnable, stored)
    input_name, x = _one_image(net)
    out = net.forward(**{input_name: x})
    prob = out[net.outputs[0]]
    assert prob.shape == out_shape
    assert np.all(np.isfinite(prob)) and np.all(prob >= 0)
    np.testing.assert_allclose(prob.reshape(1, -1).sum(axis=1), 1.0, rtol=1e-5)
    # the logits must depend on the input: a random net is not a constant function
    logits_blob = net.bottom_names[net.layer_names[-1]][0]
    logits = net.blobs[logits_blob].data.ravel()
    assert logits.std() > 1e-6
    if name not in NO_OPENCV:
        expected = _opencv_forward(net, name, x, tmp_path)
        np.testing.assert_allclose(prob.reshape(expected.shape), expected, rtol=2e-4, atol=2e-6)


def test_train_val_nets_parse_and_filter():
    """train_val files: a TRAIN and a TEST Data layer, a loss, and accuracy only in TEST."""
    from caffeine.net_filter import filter_net
    from caffeine.proto import caffe_pb2, io as proto_io
    for name in PUBLISHED:
        param = proto_io.read_net_param(REPO / "models" / name / "train_val.prototxt")
        for phase in (caffe_pb2.TRAIN, caffe_pb2.TEST):
            layers = filter_net(param, caffe_pb2.NetState(phase=phase)).layer
            types = [l.type for l in layers]
            assert types.count("Data") == 1, (name, phase)
            assert "SoftmaxWithLoss" in types
            assert ("Accuracy" in types) == (phase == caffe_pb2.TEST)
        solver = proto_io.read_solver_param(REPO / "models" / name / "solver.prototxt")
        assert solver.net == f"models/{name}/train_val.prototxt"


def test_deploy_layer_names_follow_the_published_models():
    """The names the published caffemodels use, so `copy_from` finds every layer."""
    from caffeine.proto import io as proto_io
    expect = {
        "bvlc_googlenet": ["conv1/7x7_s2", "inception_3a/5x5_reduce", "inception_5b/pool_proj", "loss3/classifier"],
        "resnet50": ["conv1", "bn_conv1", "scale_conv1", "res2a_branch1", "bn5c_branch2c", "scale4f_branch2b", "fc1000"],
        "squeezenet_v1.1": ["conv1", "fire2/squeeze1x1", "fire9/expand3x3", "conv10"],
        "mobilenet_v1": ["conv1", "conv1/bn", "conv2_1/dw", "conv5_6/sep/scale", "conv6/dw/bn", "fc7"],
        "vgg16": ["conv1_1", "conv5_3", "fc6", "fc8"],
        "bvlc_alexnet": ["conv1", "norm1", "pool1", "fc8"],
    }
    for name, wanted in expect.items():
        names = {l.name for l in proto_io.read_net_param(REPO / "models" / name / "deploy.prototxt").layer}
        assert set(wanted) <= names, (name, set(wanted) - names)


def test_generator_reproduces_the_files(tmp_path):
    """models/*/{train_val,deploy}.prototxt are exactly what tools/gen_zoo_models.py writes."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("gen_zoo_models", REPO / "tools" / "gen_zoo_models.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        gen.main(str(tmp_path))
    for name in PUBLISHED:
        for f in ("train_val.prototxt", "deploy.prototxt"):
            assert (tmp_path / name / f).read_text() == (REPO / "models" / name / f).read_text(), (name, f)
