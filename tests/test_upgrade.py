"""Legacy V0/V1 nets, input fields, BatchNorm params and solver_type upgrades."""

import logging

import pytest
from google.protobuf import text_format

from caffeine.errors import PrototxtError, SolverError
from caffeine.proto import caffe_pb2
from caffeine.proto.io import (blob_shape, parse_net_text, parse_solver_text,
                               read_net_binary, read_net_param, read_solver_state)
from caffeine.proto.upgrade import (net_needs_upgrade, solver_needs_upgrade,
                                    upgrade_net, upgrade_solver)

V1_LENET = """
name: "LeNetV1"
input: "data"
input_dim: 64 input_dim: 1 input_dim: 28 input_dim: 28
layers {
  name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  param: "conv1_w" param: "conv1_b"
  convolution_param {
    num_output: 20 kernel_size: 5 stride: 1
    weight_filler { type: "xavier" } bias_filler { type: "constant" }
  }
}
layers { name: "pool1" type: POOLING bottom: "conv1" top: "pool1"
  pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "ip1" type: INNER_PRODUCT bottom: "pool1" top: "ip1"
  blobs_lr: 1 blobs_lr: 2 inner_product_param { num_output: 500 } }
layers { name: "relu1" type: RELU bottom: "ip1" top: "ip1" }
layers { name: "ip2" type: INNER_PRODUCT bottom: "ip1" top: "ip2"
  inner_product_param { num_output: 10 } }
layers { name: "prob" type: SOFTMAX bottom: "ip2" top: "prob" }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "ip2" bottom: "label" top: "loss"
  loss_weight: 1 include { phase: TRAIN } }
"""


def test_v1_prototxt_upgrades_to_v2(caplog):
    caplog.set_level(logging.INFO, logger="caffeine")
    net = parse_net_text(V1_LENET, source="lenet_v1.prototxt")
    assert len(net.layers) == 0 and len(net.input) == 0 and len(net.input_dim) == 0
    assert [(l.name, l.type) for l in net.layer] == [
        ("input", "Input"), ("conv1", "Convolution"), ("pool1", "Pooling"),
        ("ip1", "InnerProduct"), ("relu1", "ReLU"), ("ip2", "InnerProduct"),
        ("prob", "Softmax"), ("loss", "SoftmaxWithLoss")]
    inp = net.layer[0]
    assert list(inp.top) == ["data"]
    assert [list(s.dim) for s in inp.input_param.shape] == [[64, 1, 28, 28]]
    conv = net.layer[1]
    assert [(p.name, p.lr_mult, p.decay_mult) for p in conv.param] == [
        ("conv1_w", 1.0, 1.0), ("conv1_b", 2.0, 0.0)]
    assert conv.convolution_param.num_output == 20
    assert list(conv.convolution_param.kernel_size) == [5]
    assert conv.convolution_param.weight_filler.type == "xavier"
    assert net.layer[2].pooling_param.pool == caffe_pb2.PoolingParameter.MAX
    assert list(net.layer[4].bottom) == ["ip1"] and list(net.layer[4].top) == ["ip1"]
    loss = net.layer[7]
    assert list(loss.loss_weight) == [1.0] and loss.include[0].phase == caffe_pb2.TRAIN
    assert not net_needs_upgrade(net)
    messages = caplog.text
    assert ("Attempting to upgrade input file specified using deprecated "
            "V1LayerParameter: lenet_v1.prototxt") in messages
    assert "Successfully upgraded file specified using deprecated V1LayerParameter" in messages
    assert "deprecated input fields" in messages


def test_v1_data_layer_transform_fields_move_to_transform_param():
    net = parse_net_text("""
      layers { name: "mnist" type: DATA top: "data" top: "label"
        data_param { source: "db" batch_size: 64 scale: 0.00390625 mirror: true
                     crop_size: 24 mean_file: "mean.binaryproto" backend: LMDB } }""")
    layer = net.layer[0]
    assert layer.type == "Data"
    assert layer.transform_param.scale == pytest.approx(0.00390625)
    assert layer.transform_param.mirror and layer.transform_param.crop_size == 24
    assert layer.transform_param.mean_file == "mean.binaryproto"
    for field in ("scale", "mirror", "crop_size", "mean_file"):
        assert not layer.data_param.HasField(field)
    assert layer.data_param.source == "db" and layer.data_param.backend == 1


def test_input_shape_fields_become_input_layer():
    net = parse_net_text("""
      input: "a" input_shape { dim: 1 dim: 3 } input: "b" input_shape { dim: 2 }
      layer { name: "c" type: "Concat" bottom: "a" bottom: "b" top: "c" }""")
    assert [l.type for l in net.layer] == ["Input", "Concat"]
    assert list(net.layer[0].top) == ["a", "b"]
    assert [list(s.dim) for s in net.layer[0].input_param.shape] == [[1, 3], [2]]


def test_bad_input_dim_count_is_an_error():
    with pytest.raises(PrototxtError, match="input_dim"):
        parse_net_text('input: "data" input_dim: 1 input_dim: 3', source="x.prototxt")


def test_layer_and_layers_together_is_an_error():
    with pytest.raises(PrototxtError, match="both 'layer' and 'layers'"):
        parse_net_text('layer { name: "a" type: "ReLU" } layers { name: "b" type: RELU }')


def test_batchnorm_three_params_are_removed():
    net = parse_net_text("""
      layer { name: "bn" type: "BatchNorm" bottom: "x" top: "x"
        param { lr_mult: 0 } param { lr_mult: 0 } param { lr_mult: 0 } }""")
    assert len(net.layer[0].param) == 0


def test_v0_net_with_padding_layer():
    net = parse_net_text("""
      name: "v0" input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
      layers { layer { name: "pad1" type: "padding" pad: 2 } bottom: "data" top: "pad1" }
      layers { layer { name: "conv1" type: "conv" num_output: 4 kernelsize: 3 stride: 1
                       biasterm: false blobs_lr: 1 weight_decay: 1
                       weight_filler { type: "gaussian" std: 0.01 } }
               bottom: "pad1" top: "conv1" }
      layers { layer { name: "pool1" type: "pool" pool: AVE kernelsize: 2 stride: 2 }
               bottom: "conv1" top: "pool1" }
      layers { layer { name: "drop" type: "dropout" dropout_ratio: 0.3 }
               bottom: "pool1" top: "pool1" }""", source="v0.prototxt")
    assert [(l.name, l.type) for l in net.layer] == [
        ("input", "Input"), ("conv1", "Convolution"), ("pool1", "Pooling"),
        ("drop", "Dropout")]
    conv = net.layer[1]
    assert list(conv.bottom) == ["data"]  # the padding layer is folded in
    cp = conv.convolution_param
    assert list(cp.pad) == [2] and list(cp.kernel_size) == [3] and cp.num_output == 4
    assert cp.bias_term is False and cp.weight_filler.std == pytest.approx(0.01)
    assert conv.param[0].lr_mult == 1.0
    assert net.layer[2].pooling_param.pool == caffe_pb2.PoolingParameter.AVE
    assert net.layer[3].dropout_param.dropout_ratio == pytest.approx(0.3)


def test_unknown_v0_type_is_an_error():
    with pytest.raises(PrototxtError, match="unknown V0 layer type 'bogus'"):
        parse_net_text('layers { layer { name: "x" type: "bogus" } }')


@pytest.mark.parametrize("enum, name", [
    ("SGD", "SGD"), ("NESTEROV", "Nesterov"), ("ADAGRAD", "AdaGrad"),
    ("RMSPROP", "RMSProp"), ("ADADELTA", "AdaDelta"), ("ADAM", "Adam")])
def test_solver_type_upgrade(enum, name, caplog):
    caplog.set_level(logging.INFO, logger="caffeine")
    solver = parse_solver_text(f"base_lr: 0.01 solver_type: {enum}", source="s.prototxt")
    assert solver.type == name and not solver.HasField("solver_type")
    assert not solver_needs_upgrade(solver)
    assert "deprecated 'solver_type' field (enum)': s.prototxt" in caplog.text


def test_solver_type_and_type_together_is_an_error():
    solver = text_format.Parse('solver_type: ADAM type: "Adam"', caffe_pb2.SolverParameter())
    with pytest.raises(SolverError, match="cannot both be specified"):
        upgrade_solver(solver)


def test_inline_solver_net_is_upgraded():
    solver = parse_solver_text(
        'net_param { layers { name: "r" type: RELU bottom: "x" top: "x" } }')
    assert [l.type for l in solver.net_param.layer] == ["ReLU"]


# ---------------------------------------------------------------- shared files

def test_v1_lenet_deploy_prototxt(shared):
    net = read_net_param(shared("zoo", "legacy_v1", "lenet_v1_deploy.prototxt"))
    assert net.layer[0].type == "Input"
    assert [list(s.dim) for s in net.layer[0].input_param.shape] == [[64, 1, 28, 28]]
    types = [l.type for l in net.layer]
    assert types[1:3] == ["Convolution", "Pooling"] and "InnerProduct" in types
    assert len(net.layers) == 0


def test_v2_lenet_caffemodel(shared):
    net = read_net_binary(shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel"))
    names = [l.name for l in net.layer]
    for name in ("conv1", "pool1", "conv2", "pool2", "ip1", "relu1", "ip2"):
        assert name in names
    by_name = {l.name: l for l in net.layer}
    assert by_name["conv1"].type == "Convolution"
    assert [blob_shape(b) for b in by_name["conv1"].blobs] == [(20, 1, 5, 5), (20,)]
    assert [blob_shape(b) for b in by_name["conv2"].blobs] == [(50, 20, 5, 5), (50,)]
    assert [blob_shape(b) for b in by_name["ip1"].blobs] == [(500, 800), (500,)]
    assert [blob_shape(b) for b in by_name["ip2"].blobs] == [(10, 500), (10,)]
    assert len(by_name["conv1"].blobs[0].data) == 20 * 25


@pytest.mark.parametrize("name, n_conv", [
    ("lenet_iter_10000.caffemodel", 2),
    ("cifar10_quick_iter_5000.caffemodel", 3),
    ("cifar10_full_iter_70000.caffemodel", 3)])
def test_v1_caffemodels_upgrade(shared, name, n_conv, caplog):
    caplog.set_level(logging.INFO, logger="caffeine")
    path = shared("zoo", "legacy_v1", name)
    net = read_net_binary(path)
    assert len(net.layers) == 0 and len(net.layer) > 0
    convs = [l for l in net.layer if l.type == "Convolution"]
    assert len(convs) == n_conv
    for conv in convs:
        assert len(conv.blobs) == 2 and len(conv.blobs[0].data) > 0
        assert len(blob_shape(conv.blobs[0])) == 4
    # blobs_lr 1, 2 and no weight_decay -> lr_mult 1, 2 with decay_mult default 1.
    assert [(p.lr_mult, p.decay_mult) for p in convs[0].param] == [(1.0, 1.0), (2.0, 1.0)]
    data = net.layer[0]
    assert data.type == "Data" and data.include[0].phase == caffe_pb2.TRAIN
    assert f"deprecated V1LayerParameter: {path}" in caplog.text


def test_v1_cifar10_quick_blob_shapes(shared):
    net = read_net_binary(shared("zoo", "legacy_v1", "cifar10_quick_iter_5000.caffemodel"))
    by_name = {l.name: l for l in net.layer}
    assert blob_shape(by_name["conv1"].blobs[0]) == (32, 3, 5, 5)
    assert blob_shape(by_name["ip2"].blobs[0]) == (1, 1, 10, 64)


def test_v1_solverstates_read(shared):
    state = read_solver_state(shared("zoo", "legacy_v1", "lenet_iter_10000.solverstate"))
    assert state.iter == 10000 and len(state.history) == 8
    assert state.learned_net.endswith("lenet_iter_10000.caffemodel")


def test_upgrade_is_idempotent_on_v2(shared):
    net = read_net_binary(shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel"))
    before = net.SerializeToString()
    assert not net_needs_upgrade(net)
    assert upgrade_net(net).SerializeToString() == before
