"""NetSpec / layers (L) / params (P) / to_proto: pycaffe's way of writing nets in Python."""
import numpy as np
import pytest
from google.protobuf import text_format

import caffeine
from caffeine import layers as L, params as P
from caffeine.errors import ConfigError
from caffeine.net import Net
from caffeine.net_spec import NetSpec, param_name_dict, to_proto
from caffeine.proto import caffe_pb2


def lenet(lmdb, batch_size):
    """pycaffe's examples/01-learning-lenet net, written the same way."""
    n = NetSpec()
    n.data, n.label = L.Data(batch_size=batch_size, backend=P.Data.LMDB, source=lmdb,
                             transform_param=dict(scale=1. / 255), ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.conv2 = L.Convolution(n.pool1, kernel_size=5, num_output=50, weight_filler=dict(type="xavier"))
    n.pool2 = L.Pooling(n.conv2, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.fc1 = L.InnerProduct(n.pool2, num_output=500, weight_filler=dict(type="xavier"),
                           param=[dict(lr_mult=1), dict(lr_mult=2)])
    n.relu1 = L.ReLU(n.fc1, in_place=True)
    n.score = L.InnerProduct(n.relu1, num_output=10, weight_filler=dict(type="xavier"))
    n.loss = L.SoftmaxWithLoss(n.score, n.label)
    return n.to_proto()


def test_lenet_proto_fields():
    net = lenet("mnist/train_lmdb", 64)
    assert [l.name for l in net.layer] == ["data", "conv1", "pool1", "conv2", "pool2", "fc1", "relu1", "score", "loss"]
    data = net.layer[0]
    assert data.type == "Data" and list(data.top) == ["data", "label"]
    assert data.data_param.source == "mnist/train_lmdb" and data.data_param.batch_size == 64
    assert data.data_param.backend == caffe_pb2.DataParameter.LMDB
    assert data.transform_param.scale == pytest.approx(1 / 255)
    conv1 = net.layer[1]
    assert list(conv1.bottom) == ["data"] and list(conv1.top) == ["conv1"]
    assert list(conv1.convolution_param.kernel_size) == [5] and conv1.convolution_param.num_output == 20
    assert conv1.convolution_param.weight_filler.type == "xavier"
    assert net.layer[2].pooling_param.pool == caffe_pb2.PoolingParameter.MAX
    assert [(p.lr_mult) for p in net.layer[5].param] == [1, 2]
    relu = net.layer[6]
    assert list(relu.bottom) == list(relu.top) == ["fc1"]          # in place
    assert list(net.layer[7].bottom) == ["fc1"]                   # consumers of the relu see fc1
    assert list(net.layer[8].bottom) == ["score", "label"]
    # text form round-trips through protobuf's parser
    again = text_format.Parse(str(net), caffe_pb2.NetParameter())
    assert again == net


def test_builds_and_runs_in_caffeine():
    n = NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 1, 12, 12]))
    n.conv = L.Convolution(n.data, kernel_size=3, num_output=4, weight_filler=dict(type="gaussian", std=0.1))
    n.relu = L.ReLU(n.conv, in_place=True)
    n.pool = L.Pooling(n.conv, kernel_size=2, stride=2, pool=P.Pooling.AVE)
    n.ip = L.InnerProduct(n.pool, num_output=3, weight_filler=dict(type="xavier"))
    n.prob = L.Softmax(n.ip)
    param = n.to_proto()
    param.name = "spec"
    caffeine.set_random_seed(5)
    net = Net(param, phase=caffeine.TEST)
    x = np.random.default_rng(0).standard_normal((2, 1, 12, 12)).astype(np.float32)
    out = net.forward(data=x)["prob"]
    assert out.shape == (2, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-6)
    assert net.params["conv"][0].shape == (4, 1, 3, 3)


def test_auto_names_and_to_proto_of_tops():
    data = L.Input(shape=dict(dim=[1, 3]))
    a = L.InnerProduct(data, num_output=2)
    b = L.InnerProduct(a, num_output=2)
    net = to_proto(b)
    assert [(l.name, list(l.top)) for l in net.layer] == [
        ("Input1", ["Input1"]), ("InnerProduct1", ["InnerProduct1"]), ("InnerProduct2", ["InnerProduct2"])]
    assert b.to_proto() == net


def test_multiple_tops_zero_tops_and_layer_fields():
    n = NetSpec()
    n.data = L.Input(shape=[dict(dim=[4, 6])])
    n.a, n.b = L.Slice(n.data, slice_param=dict(axis=1, slice_point=[2]), ntop=2)
    silence = L.Silence(n.b, ntop=0)
    n.loss = L.EuclideanLoss(n.a, n.a, loss_weight=0.5, include=dict(phase=caffeine.TRAIN))
    net = n.to_proto()
    names = [l.name for l in net.layer]
    assert names == ["data", "a", "loss"]           # a Silence that nothing reaches is not emitted
    slice_layer = net.layer[1]
    assert list(slice_layer.top) == ["a", "b"] and list(slice_layer.slice_param.slice_point) == [2]
    assert list(net.layer[2].loss_weight) == [0.5] and net.layer[2].include[0].phase == caffe_pb2.TRAIN
    assert isinstance(silence, caffeine.net_spec.Function)
    net2 = to_proto(n.loss, silence.inputs[0])       # outside a NetSpec every top is auto-named
    assert [list(l.top) for l in net2.layer] == [["Input1"], ["Slice1", "Slice2"], ["EuclideanLoss1"]]


def test_param_name_dict_and_params():
    names = param_name_dict()
    assert names["Convolution"] == "convolution" and names["InnerProduct"] == "inner_product"
    assert names["Pooling"] == "pooling" and names["Data"] == "data"
    assert P.Pooling.AVE == caffe_pb2.PoolingParameter.AVE
    assert P.LRN.WITHIN_CHANNEL == caffe_pb2.LRNParameter.WITHIN_CHANNEL
    with pytest.raises(AttributeError):
        P.NoSuchLayer.X


def test_lazy_package_names():
    assert caffeine.NetSpec is NetSpec
    assert caffeine.layers is L and caffeine.params is P


def test_errors():
    data = L.Input(shape=dict(dim=[1]))
    with pytest.raises(ConfigError, match="no field 'kernal_size'"):
        to_proto(L.Convolution(data, kernal_size=3))
    with pytest.raises(ConfigError, match="bad value for field 'num_output'"):
        to_proto(L.Convolution(data, num_output="many"))
    with pytest.raises(TypeError, match="not a Top"):
        L.ReLU("data")
