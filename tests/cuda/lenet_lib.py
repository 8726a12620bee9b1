"""LeNet (models/lenet/train_val.prototxt) with its Data layers replaced by DummyData, for
training on the CPU and on a GPU (emulated or real) from the same seed."""
import os

from google.protobuf import text_format

from caffeine.proto import caffe_pb2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DUMMY = """
name: "data" type: "DummyData" top: "data" top: "label"
dummy_data_param {
  shape { dim: %d dim: 1 dim: 28 dim: 28 } shape { dim: %d }
  data_filler { type: "gaussian" std: 1 } data_filler { type: "uniform" min: 0 max: 9.99 }
}
include { phase: TRAIN }
"""


def lenet_net_param(batch=8):
    with open(os.path.join(ROOT, "models", "lenet", "train_val.prototxt"), encoding="utf-8") as f:
        net = text_format.Parse(f.read(), caffe_pb2.NetParameter())
    layers = [lp for lp in net.layer if lp.type != "Data"]
    del net.layer[:]
    net.layer.add().CopyFrom(text_format.Parse(DUMMY % (batch, batch), caffe_pb2.LayerParameter()))
    for lp in layers:
        net.layer.add().CopyFrom(lp)
    return net


def lenet_solver_param(batch=8, rule="SGD"):
    sp = caffe_pb2.SolverParameter()
    text_format.Parse('base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005 lr_policy: "inv" gamma: 0.0001 '
                      'power: 0.75 display: 0 max_iter: 100 random_seed: 1701 snapshot_after_train: false',
                      sp)
    sp.type = rule
    if rule == "Adam":
        sp.momentum2, sp.delta, sp.base_lr = 0.999, 1e-8, 0.001
    sp.net_param.CopyFrom(lenet_net_param(batch))
    return sp
