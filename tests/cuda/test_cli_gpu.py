"""The CLI verbs with --gpu 0 run the GPU path end to end (on the emulated device in CI, on a
real one under -m gpu): device_query names the device, time reports per-layer GPU timings,
train on the GPU writes the same weights as on the CPU."""
import os

import numpy as np
import pytest
from google.protobuf import text_format

from caffeine import backend
from caffeine.cli.main import main
from caffeine.proto import caffe_pb2
from caffeine.testing.emulated_gpu import emulated_gpu
from lenet_lib import ROOT, lenet_solver_param
from parity_lib import device

KINDS = ["emulated", pytest.param("cuda", marks=pytest.mark.gpu)]
DEPLOY = os.path.join(ROOT, "models", "lenet", "deploy.prototxt")


def test_device_query_names_the_device(capsys):
    with emulated_gpu():
        assert main(["device_query", "--gpu", "0"]) == 0
    out = capsys.readouterr()
    assert "caffeine emulated GPU (host)" in out.out + out.err


@pytest.mark.parametrize("kind", KINDS)
def test_time_on_the_gpu_reports_every_layer(kind, caplog):
    caplog.set_level("INFO", logger="caffeine")
    with device(kind):
        code = main(["time", "--model", DEPLOY, "--gpu", "0", "--iterations", "2"])
    backend.set_mode_cpu()
    assert code == 0
    text = caplog.text
    assert "Use GPU with device ID 0" in text
    for layer in ("conv1", "pool1", "conv2", "ip1", "relu1", "ip2", "prob"):
        assert f"{layer}\tforward:" in text
    assert "Average Forward-Backward" in text


@pytest.mark.parametrize("kind", KINDS)
def test_train_on_the_gpu_writes_the_cpu_weights(kind, tmp_path):
    def train(gpu_args, folder):
        folder.mkdir()
        sp = lenet_solver_param(4)
        sp.max_iter, sp.snapshot_after_train = 3, True
        sp.snapshot_prefix = str(folder / "lenet")
        solver = folder / "solver.prototxt"
        solver.write_text(text_format.MessageToString(sp))
        assert main(["train", "--solver", str(solver)] + gpu_args) == 0
        net = caffe_pb2.NetParameter()
        net.ParseFromString((folder / "lenet_iter_3.caffemodel").read_bytes())
        return {lp.name: [np.array(b.data) for b in lp.blobs] for lp in net.layer if lp.blobs}

    cpu = train([], tmp_path / "cpu")
    with device(kind):
        gpu = train(["--gpu", "0"], tmp_path / "gpu")
    backend.set_mode_cpu()
    assert cpu.keys() == gpu.keys() and len(cpu) == 4
    for name in cpu:
        for a, b in zip(gpu[name], cpu[name]):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6, err_msg=name)
