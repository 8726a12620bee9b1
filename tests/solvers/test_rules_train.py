"""Every rule trains a CIFAR10-quick-sized net on the built-in digits without diverging.

(A few dozen iterations: enough to see a rule blow up, too few for CIFAR10-quick's slow
start to show a clear loss drop on a 2-core CPU.)
"""
import gc

import numpy as np
import pytest

from caffeine.solvers import SOLVERS, get_solver
from solver_testlib import record_losses, run_cli, solver_param

# Caffe's cifar10_quick layers (conv32-pool-conv32-avepool-conv64-avepool-ip64-ip10) on 1x28x28 digits,
# every learned layer with xavier weights, constant bias and lr_mult 1 / 2.
LEARNED = 'param { lr_mult: 1 } param { lr_mult: 2 }'
FILLERS = 'weight_filler { type: "xavier" } bias_filler { type: "constant" }'


def conv(k, bottom, nout):
    return (f'layer {{ name: "conv{k}" type: "Convolution" bottom: "{bottom}" top: "conv{k}" {LEARNED}\n'
            f'  convolution_param {{ num_output: {nout} pad: 2 kernel_size: 5 stride: 1 {FILLERS} }} }}\n')


def pool(k, bottom, method):
    return (f'layer {{ name: "pool{k}" type: "Pooling" bottom: "{bottom}" top: "pool{k}"\n'
            f'  pooling_param {{ pool: {method} kernel_size: 3 stride: 2 }} }}\n')


def relu(k, top):
    return f'layer {{ name: "relu{k}" type: "ReLU" bottom: "{top}" top: "{top}" }}\n'


def ip(k, bottom, nout):
    return (f'layer {{ name: "ip{k}" type: "InnerProduct" bottom: "{bottom}" top: "ip{k}" {LEARNED}\n'
            f'  inner_product_param {{ num_output: {nout} {FILLERS} }} }}\n')


QUICK_NET = "".join([
    'name: "CIFAR10_quick_digits"\n',
    'layer { name: "data" type: "Data" top: "data" top: "label"\n'
    '  transform_param { scale: 0.00390625 }\n'
    '  data_param { source: "SOURCE" batch_size: 16 backend: LMDB } }\n',
    conv(1, "data", 32), pool(1, "conv1", "MAX"), relu(1, "pool1"),
    conv(2, "pool1", 32), relu(2, "conv2"), pool(2, "conv2", "AVE"),
    conv(3, "pool2", 64), relu(3, "conv3"), pool(3, "conv3", "AVE"),
    ip(1, "pool3", 64), ip(2, "ip1", 10),
    'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }\n',
])

# Settings in the range of Caffe's examples (the adaptive rules' first step is lr * sign(g)).
SETTINGS = {
    "SGD": "base_lr: 0.01 momentum: 0.9 weight_decay: 0.004",
    "Nesterov": "base_lr: 0.01 momentum: 0.95 weight_decay: 0.0005",
    "AdaGrad": "base_lr: 0.002 weight_decay: 0.0005",
    "RMSProp": "base_lr: 0.0002 rms_decay: 0.98 weight_decay: 0.0005",
    "AdaDelta": "base_lr: 1.0 momentum: 0.95 delta: 1e-6 weight_decay: 0.0005",
    "Adam": "base_lr: 0.001 momentum: 0.9 momentum2: 0.999 weight_decay: 0.0005",
}
ITERS = 30


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    result = run_cli(["data", "digits", str(folder), "--train", "1000", "--test", "100"], cwd=folder,
                     timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "train_lmdb"


@pytest.mark.slow
@pytest.mark.parametrize("rule", sorted(SOLVERS))
def test_rule_trains_cifar10_quick_sized_net(rule, digits):
    gc.collect()   # the previous test's net must release the LMDB (one open per process)
    p = solver_param(f"""type: "{rule}" {SETTINGS[rule]} lr_policy: "fixed" max_iter: {ITERS}
        random_seed: 1701 snapshot_after_train: false average_loss: 10""",
                     net=QUICK_NET.replace("SOURCE", str(digits)))
    solver = get_solver(p)
    losses = record_losses(solver)
    initial = [b.data.copy() for b in solver.net.learnable_params]
    try:
        solver.solve()    # the divergence guard raises TrainingDiverged on NaN/Inf
    finally:
        del solver.net.forward_backward
    assert solver.iter == ITERS and np.all(np.isfinite(losses))
    assert np.mean(losses[-10:]) < 1.1 * np.log(10), f"{rule}: {np.round(losses, 2)}"
    for blob, before in zip(solver.net.learnable_params, initial):
        assert np.all(np.isfinite(blob.data)) and not np.array_equal(blob.data, before)
