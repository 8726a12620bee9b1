"""Files written by caffeine load in OpenCV's Caffe importer and give the same outputs."""
import cv2
import numpy as np
import pytest

import caffeine
from caffeine import backend
from tests.e2e.cli import REPO

RANDOM_NETS = {
    "conv_pool_ip": '''
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 17 dim: 15 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 6 kernel_size: 3 pad: 1 stride: 2 weight_filler { type: "gaussian" std: 0.3 }
                      bias_filler { type: "uniform" min: -0.5 max: 0.5 } } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1"
  inner_product_param { num_output: 7 weight_filler { type: "xavier" } bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "prob" type: "Softmax" bottom: "ip1" top: "prob" }
''',
    "branches_lrn_ave": '''
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 4 dim: 12 dim: 12 } } }
layer { name: "a" type: "Convolution" bottom: "data" top: "a"
  convolution_param { num_output: 5 kernel_size: 3 pad: 1 group: 1 weight_filler { type: "msra" } } }
layer { name: "b" type: "Convolution" bottom: "data" top: "b"
  convolution_param { num_output: 5 kernel_h: 1 kernel_w: 3 pad_h: 0 pad_w: 1 weight_filler { type: "xavier" } } }
layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "sum" }
layer { name: "cat" type: "Concat" bottom: "sum" bottom: "a" top: "cat" }
layer { name: "norm" type: "LRN" bottom: "cat" top: "norm" lrn_param { local_size: 5 alpha: 0.1 beta: 0.75 } }
layer { name: "pool" type: "Pooling" bottom: "norm" top: "pool" pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "tanh" type: "TanH" bottom: "pool" top: "tanh" }
''',
    "grouped_dilated": '''
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 11 dim: 11 } } }
layer { name: "g" type: "Convolution" bottom: "data" top: "g"
  convolution_param { num_output: 6 kernel_size: 3 dilation: 2 group: 2 weight_filler { type: "gaussian" std: 0.2 } } }
layer { name: "sig" type: "Sigmoid" bottom: "g" top: "g" }
layer { name: "ip" type: "InnerProduct" bottom: "g" top: "ip" inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
''',
}


def opencv_forward(prototxt, caffemodel, x, out_name):
    net = cv2.dnn.readNetFromCaffe(str(prototxt), str(caffemodel))
    net.setInput(x.astype(np.float32))
    return net.forward(out_name)


@pytest.mark.parametrize("name", sorted(RANDOM_NETS))
def test_random_nets_agree_with_opencv(tmp_path, name):
    backend.set_random_seed(17)
    proto = tmp_path / f"{name}.prototxt"
    proto.write_text(f'name: "{name}"\n' + RANDOM_NETS[name])
    net = caffeine.Net(str(proto), caffeine.TEST)
    weights = tmp_path / f"{name}.caffemodel"
    net.save(str(weights))
    x = np.random.default_rng(5).standard_normal(net.blobs["data"].shape).astype(np.float32)
    out_name = net.outputs[-1]
    ours = net.forward(data=x)[out_name].copy()
    theirs = opencv_forward(proto, weights, x, out_name).reshape(ours.shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())  # float32 summation order


def test_trained_lenet_snapshot_loads_in_opencv(tmp_path):
    """A LeNet whose weights caffeine wrote after a few SGD steps loads in OpenCV dnn."""
    backend.set_random_seed(1)
    deploy = REPO / "models" / "lenet" / "deploy.prototxt"
    net = caffeine.Net(str(deploy), caffeine.TEST)
    for p in net.learnable_params:  # perturb like a training run would
        p.data[...] += np.random.default_rng(2).standard_normal(p.shape).astype(np.float32) * 0.01
    weights = tmp_path / "lenet.caffemodel"
    net.save(str(weights))
    x = np.random.default_rng(3).random((64, 1, 28, 28)).astype(np.float32)
    ours = net.forward(data=x)["prob"].copy()
    theirs = opencv_forward(deploy, weights, x, "prob")
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    reloaded = caffeine.Net(str(deploy), str(weights), caffeine.TEST)
    np.testing.assert_array_equal(reloaded.forward(data=x)["prob"], ours)


MIXED = '''
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 9 dim: 9 } } }
layer { name: "up" type: "Deconvolution" bottom: "data" top: "up"
  convolution_param { num_output: 6 kernel_size: 4 stride: 2 pad: 1 weight_filler { type: "gaussian" std: 0.3 }
                      bias_filler { type: "gaussian" std: 0.1 } } }
layer { name: "bn" type: "BatchNorm" bottom: "up" top: "up" }
layer { name: "sc" type: "Scale" bottom: "up" top: "up"
  scale_param { bias_term: true filler { type: "uniform" min: 0.5 max: 1.5 } bias_filler { type: "gaussian" std: 0.2 } } }
layer { name: "prelu" type: "PReLU" bottom: "up" top: "up" prelu_param { filler { type: "uniform" min: 0.1 max: 0.3 } } }
layer { name: "crop_ref" type: "Convolution" bottom: "data" top: "ref"
  convolution_param { num_output: 2 kernel_size: 1 weight_filler { type: "xavier" } } }
layer { name: "crop" type: "Crop" bottom: "up" bottom: "ref" top: "crop" crop_param { axis: 2 offset: 3 } }
layer { name: "slice" type: "Slice" bottom: "crop" top: "s1" top: "s2" slice_param { axis: 1 slice_point: 2 } }
layer { name: "elu" type: "ELU" bottom: "s1" top: "e" elu_param { alpha: 0.7 } }
layer { name: "pow" type: "Power" bottom: "s2" top: "p" power_param { power: 2 scale: 0.5 shift: 1 } }
layer { name: "cat" type: "Concat" bottom: "e" bottom: "p" top: "cat" }
layer { name: "mvn" type: "MVN" bottom: "cat" top: "mvn" }
layer { name: "lrn" type: "LRN" bottom: "mvn" top: "lrn"
  lrn_param { norm_region: WITHIN_CHANNEL local_size: 3 alpha: 0.2 beta: 0.75 } }
layer { name: "flat" type: "Reshape" bottom: "lrn" top: "flat" reshape_param { shape { dim: 0 dim: -1 } } }
'''


def test_mixed_net_of_opencv_importable_types_agrees(tmp_path):
    """Deconvolution, BatchNorm+Scale, PReLU, Crop, Slice, ELU, Power, Concat, MVN,
    LRN WITHIN_CHANNEL and Reshape in one random net, saved by caffeine, run by OpenCV."""
    backend.set_random_seed(23)
    proto = tmp_path / "mixed.prototxt"
    proto.write_text('name: "mixed"\n' + MIXED)
    net = caffeine.Net(str(proto), caffeine.TEST)
    rng = np.random.default_rng(4)
    mean, var, factor = net.params["bn"]
    mean.data[...] = rng.standard_normal(mean.shape) * 0.2 * 3.0
    var.data[...] = rng.uniform(0.5, 2.0, var.shape) * 3.0
    factor.data[...] = 3.0  # stored sums are divided by this moving-average factor
    weights = tmp_path / "mixed.caffemodel"
    net.save(str(weights))
    x = rng.standard_normal(net.blobs["data"].shape).astype(np.float32)
    ours = net.forward(data=x)["flat"].copy()
    theirs = opencv_forward(proto, weights, x, "flat").reshape(ours.shape)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())
