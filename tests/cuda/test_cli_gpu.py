"""The CLI verbs with --gpu 0 run the GPU path end to end (on the emulated device in CI, on a
real one under -m gpu): device_query names the device, time reports per-layer GPU timings,
train on the GPU writes the same weights as on the CPU."""
import collections
import os
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import text_format

from caffeine import backend
from caffeine.cli.main import main
from caffeine.proto import caffe_pb2
from caffeine.testing import emulated_streams
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


@pytest.mark.parametrize("kind", KINDS)
def test_lenet_on_digits_lmdb_trains_and_tests_on_the_gpu_as_on_the_cpu(kind, tmp_path, monkeypatch, caplog):
    """The README's main job, shortened: LMDB Data layers (device transform, pinned prefetch,
    side-stream copies) feed LeNet; train and test with --gpu 0 equal the CPU run."""
    monkeypatch.chdir(tmp_path)
    assert main(["data", "digits", "data/lenet", "--train", "256", "--test", "200"]) == 0
    net = (Path(ROOT, "models", "lenet", "train_val.prototxt").read_text(encoding="utf-8")
           .replace("batch_size: 100", "batch_size: 50"))
    (tmp_path / "lenet.prototxt").write_text(net)

    def train_and_test(gpu_args, name):
        solver = tmp_path / f"solver_{name}.prototxt"
        solver.write_text(f'net: "lenet.prototxt" test_iter: 4 test_interval: 6 base_lr: 0.01 momentum: 0.9 '
                          f'weight_decay: 0.0005 lr_policy: "inv" gamma: 0.0001 power: 0.75 display: 3 '
                          f'max_iter: 6 snapshot_prefix: "{name}" random_seed: 1701')
        caplog.clear()
        assert main(["train", "--solver", str(solver)] + gpu_args) == 0
        train_log = list(caplog.messages)
        caplog.clear()
        assert main(["test", "--model", "lenet.prototxt", "--weights", f"{name}_iter_6.caffemodel",
                     "--iterations", "4"] + gpu_args) == 0
        return train_log, list(caplog.messages), (tmp_path / f"{name}_iter_6.caffemodel").read_bytes()

    caplog.set_level("INFO", logger="caffeine")
    cpu_train, cpu_test, cpu_model = train_and_test([], "cpu")
    emulated_streams.LOG.clear()
    with device(kind):
        gpu_train, gpu_test, gpu_model = train_and_test(["--gpu", "0"], "gpu")
    backend.set_mode_cpu()
    if kind == "emulated":  # the Data layers transformed on the device, from pinned side-stream copies
        launched = collections.Counter(e[1] for e in emulated_streams.LOG if e[0] == "launch")
        assert launched["transform_uint8"] >= 6 + 4 + 4, launched["transform_uint8"]
        assert any(e[0] == "h2d" and e[3] for e in emulated_streams.LOG), "no copy from pinned memory"
    assert "Use GPU with device ID 0" in gpu_train and "Use GPU with device ID 0" in gpu_test

    def numbers(messages, key):
        return [float(m.rsplit("=", 1)[1].split()[0]) for m in messages if key in m and "=" in m]

    for key in ("Train net output #0: loss", "Test net output #0: accuracy", "Test net output #1: loss"):
        cpu, gpu = numbers(cpu_train, key), numbers(gpu_train, key)
        assert cpu and len(cpu) == len(gpu), key
        np.testing.assert_allclose(gpu, cpu, rtol=2e-4, err_msg=key)
    final = [m for m in cpu_test if m.startswith("accuracy =")]
    assert len(final) == 1 and final == [m for m in gpu_test if m.startswith("accuracy =")]
    cpu_net, gpu_net = caffe_pb2.NetParameter(), caffe_pb2.NetParameter()
    cpu_net.ParseFromString(cpu_model)
    gpu_net.ParseFromString(gpu_model)
    for a, b in zip(cpu_net.layer, gpu_net.layer):
        for x, y in zip(a.blobs, b.blobs):
            np.testing.assert_allclose(np.array(y.data), np.array(x.data), rtol=1e-4, atol=2e-6, err_msg=a.name)
