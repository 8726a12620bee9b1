"""The small verbs through the real CLI: device_query, time, upgrade_*, flag spellings."""
import re

import pytest

from caffeine import backend
from caffeine.proto import caffe_pb2, io as proto_io
from tests.e2e.cli import REPO, run_cli

DEPLOY = REPO / "models" / "lenet" / "deploy.prototxt"


@pytest.mark.skipif(backend.gpu_available(), reason="checks the CPU-only answer")
def test_device_query_on_a_cpu_only_machine_says_so():
    proc = run_cli("device_query")
    assert proc.returncode == 0
    assert "CPU only" in proc.stdout


@pytest.mark.skipif(backend.gpu_available(), reason="checks the CPU-only answer")
def test_gpu_flag_without_gpu_is_a_clear_error(tmp_path):
    proc = run_cli("test", "--model", DEPLOY, "--gpu", "0", "--iterations", 1)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "GPU" in proc.stderr.splitlines()[-1]


def test_time_reports_caffes_lines_with_every_flag_spelling():
    for flags in (["--model", DEPLOY, "--iterations", "2"], [f"--model={DEPLOY}", "-iterations", "2"],
                  ["-model", DEPLOY, "-iterations=2"]):
        proc = run_cli("time", *flags)
        assert proc.returncode == 0, proc.stderr[-1500:]
        for line in ("Average Forward pass:", "Average Backward pass:", "Average Forward-Backward:"):
            assert line in proc.stderr
        assert re.search(r"conv1\tforward: [0-9.]+ ms\.", proc.stderr)


def test_upgrade_net_proto_text_and_binary(tmp_path, shared):
    out = tmp_path / "v2.prototxt"
    proc = run_cli("upgrade_net_proto_text", shared("zoo", "legacy_v1", "lenet_v1_deploy.prototxt"), out)
    assert proc.returncode == 0, proc.stderr[-1500:]
    net = proto_io.read_net_param(str(out))
    assert not len(net.layers) and [l.type for l in net.layer][:2] == ["Input", "Convolution"]
    assert "layer {" in out.read_text() and "input_dim" not in out.read_text()
    bin_out = tmp_path / "v2.caffemodel"
    proc = run_cli("upgrade_net_proto_binary", shared("zoo", "legacy_v1", "lenet_iter_10000.caffemodel"), bin_out)
    assert proc.returncode == 0, proc.stderr[-1500:]
    upgraded = caffe_pb2.NetParameter.FromString(bin_out.read_bytes())
    assert not len(upgraded.layers)
    conv1 = [l for l in upgraded.layer if l.name == "conv1"][0]
    assert conv1.type == "Convolution" and len(conv1.blobs) == 2


def test_upgrade_solver_proto_text(tmp_path):
    old = tmp_path / "old_solver.prototxt"
    old.write_text('net: "x.prototxt"\nbase_lr: 0.01\nmomentum: 0.9\nsolver_type: NESTEROV\n')
    out = tmp_path / "new_solver.prototxt"
    proc = run_cli("upgrade_solver_proto_text", old, out)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert 'type: "Nesterov"' in out.read_text() and "solver_type" not in out.read_text()


def test_upgrade_refuses_to_overwrite_its_input(tmp_path):
    old = tmp_path / "s.prototxt"
    old.write_text('base_lr: 0.01\n')
    proc = run_cli("upgrade_solver_proto_text", old, old)
    assert proc.returncode == 2 and old.read_text() == 'base_lr: 0.01\n'


def test_help_and_version():
    assert run_cli("--version").stdout.startswith("caffeine ")
    proc = run_cli("help")
    assert proc.returncode == 0 and "train" in proc.stdout
