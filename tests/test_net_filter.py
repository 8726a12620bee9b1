from google.protobuf import text_format

from caffeine.net_filter import filter_net, insert_splits, state_meets_rule
from caffeine.proto import caffe_pb2


def _net(text):
    return text_format.Parse(text, caffe_pb2.NetParameter())


def test_state_rules_phase_level_stage():
    s = caffe_pb2.NetState(phase=caffe_pb2.TEST, level=2, stage=["deploy"])
    assert state_meets_rule(s, caffe_pb2.NetStateRule(phase=caffe_pb2.TEST))
    assert not state_meets_rule(s, caffe_pb2.NetStateRule(phase=caffe_pb2.TRAIN))
    assert not state_meets_rule(s, caffe_pb2.NetStateRule(min_level=3))
    assert state_meets_rule(s, caffe_pb2.NetStateRule(max_level=2))
    assert not state_meets_rule(s, caffe_pb2.NetStateRule(stage=["train"]))
    assert not state_meets_rule(s, caffe_pb2.NetStateRule(not_stage=["deploy"]))


def test_filter_include_exclude():
    net = _net('''
      layer { name: "a" type: "Input" top: "x" include { phase: TRAIN } }
      layer { name: "b" type: "Input" top: "x" include { phase: TEST } }
      layer { name: "c" type: "ReLU" bottom: "x" top: "x" exclude { phase: TEST } }''')
    train = filter_net(net, caffe_pb2.NetState(phase=caffe_pb2.TRAIN))
    test = filter_net(net, caffe_pb2.NetState(phase=caffe_pb2.TEST))
    assert [l.name for l in train.layer] == ["a", "c"]
    assert [l.name for l in test.layer] == ["b"]


def test_insert_splits_uses_caffe_names():
    net = _net('''
      layer { name: "data" type: "Input" top: "data" }
      layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1" }
      layer { name: "ip2" type: "InnerProduct" bottom: "data" top: "ip2" }''')
    out = insert_splits(net)
    names = [l.name for l in out.layer]
    assert names == ["data", "data_data_0_split", "ip1", "ip2"]
    split = out.layer[1]
    assert split.type == "Split" and list(split.bottom) == ["data"]
    assert list(split.top) == ["data_data_0_split_0", "data_data_0_split_1"]
    assert list(out.layer[2].bottom) == ["data_data_0_split_0"]
    assert list(out.layer[3].bottom) == ["data_data_0_split_1"]


def test_insert_splits_loss_top_consumed_again():
    net = _net('''
      layer { name: "data" type: "Input" top: "x" }
      layer { name: "loss" type: "EuclideanLoss" bottom: "x" bottom: "x" top: "l" loss_weight: 2 }
      layer { name: "use" type: "ReLU" bottom: "l" top: "r" }''')
    out = insert_splits(net)
    split = [l for l in out.layer if l.name == "l_loss_0_split"][0]
    assert list(split.loss_weight) == [2.0, 0.0]
    assert not len([l for l in out.layer if l.name == "loss"][0].loss_weight)
    assert list([l for l in out.layer if l.name == "use"][0].bottom) == ["l_loss_0_split_1"]


def test_no_split_for_in_place_chain():
    net = _net('''
      layer { name: "data" type: "Input" top: "x" }
      layer { name: "relu" type: "ReLU" bottom: "x" top: "x" }
      layer { name: "ip" type: "InnerProduct" bottom: "x" top: "y" }''')
    assert [l.type for l in insert_splits(net).layer] == ["Input", "ReLU", "InnerProduct"]
