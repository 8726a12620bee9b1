"""Helpers shared by the solver tests: tiny nets and solver parameters from text."""
import functools
import os
import subprocess
import sys
from pathlib import Path

from google.protobuf import text_format

from caffeine.proto import caffe_pb2

REPO = Path(__file__).resolve().parents[2]

# DummyData (gaussian: refilled at every forward, from the global random stream) ->
# InnerProduct -> EuclideanLoss.  Two params with different lr/decay multipliers.
TINY_NET = """
name: "tiny"
layer { name: "data" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "gaussian" std: 1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "out"
  param { lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0.5 }
  inner_product_param { num_output: 2
    weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "y" top: "loss" }
"""

# A slightly larger net with Dropout (random masks) for resume / determinism tests.
DROPOUT_NET = """
name: "drop"
layer { name: "data" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 8 dim: 6 } shape { dim: 8 dim: 3 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "gaussian" std: 1 } } }
layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h"
  inner_product_param { num_output: 10 weight_filler { type: "xavier" }
    bias_filler { type: "constant" value: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
layer { name: "drop" type: "Dropout" bottom: "h" top: "h" dropout_param { dropout_ratio: 0.3 } }
layer { name: "ip2" type: "InnerProduct" bottom: "h" top: "out"
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "y" top: "loss" }
"""

# Per rule: hyper-parameters that make each rule do something (Caffe's examples' values).
RULE_SETTINGS = {
    "SGD": "base_lr: 0.05 momentum: 0.9",
    "Nesterov": "base_lr: 0.05 momentum: 0.9",
    "AdaGrad": "base_lr: 0.05 delta: 1e-6",
    "RMSProp": "base_lr: 0.01 rms_decay: 0.98 delta: 1e-6",
    "AdaDelta": "base_lr: 1.0 momentum: 0.95 delta: 1e-6",
    "Adam": "base_lr: 0.01 momentum: 0.9 momentum2: 0.999 delta: 1e-8",
}


@functools.lru_cache(maxsize=None)
def _parsed_net(text):
    return text_format.Parse(text, caffe_pb2.NetParameter()).SerializeToString()


def net_param(text):
    """A fresh NetParameter from text (parsed once per text)."""
    param = caffe_pb2.NetParameter()
    param.ParseFromString(_parsed_net(text))
    return param


def solver_param(text, net=TINY_NET):
    """A SolverParameter from text, with ``net`` inlined as net_param (unless given)."""
    param = text_format.Parse(text, caffe_pb2.SolverParameter())
    if not (param.HasField("net") or param.HasField("train_net") or param.HasField("net_param")
            or param.HasField("train_net_param")):
        param.net_param.CopyFrom(net_param(net))
    return param


def write(path, text):
    path = Path(path)
    path.write_text(text)
    return path


def run_cli(args, cwd, timeout=120, **kw):
    """``python -m caffeine.cli.main ARGS`` in a subprocess (the repo on PYTHONPATH)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "caffeine.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, **kw)


def python_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def record_losses(solver):
    """Wrap ``solver.net.forward_backward`` so that every loss it returns is appended to
    the list this returns (one entry per forward/backward, iter_size of them a step)."""
    losses = []
    original = solver.net.forward_backward

    def forward_backward():
        losses.append(original())
        return losses[-1]

    solver.net.forward_backward = forward_backward
    return losses
