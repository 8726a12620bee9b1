"""`caffeine summary`: the layer / shape / parameter table and its two totals."""
import os
import subprocess
import sys
from pathlib import Path

from caffeine.cli.summary import param_counts, summary_rows
from caffeine.net import Net
from caffeine.proto import io as proto_io

REPO = Path(__file__).resolve().parents[2]

SHARED_AND_BN = """
name: "t"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }
layer { name: "ipa" type: "InnerProduct" bottom: "data" top: "a"
        param { name: "w" } param { name: "b" } inner_product_param { num_output: 5 } }
layer { name: "ipb" type: "InnerProduct" bottom: "data" top: "b"
        param { name: "w" } param { name: "b" } inner_product_param { num_output: 5 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 6 kernel_size: 3 } }
layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" }
layer { name: "sc" type: "Scale" bottom: "c" top: "c" scale_param { bias_term: true } }
"""


def test_counts_shared_once_and_bn_statistics_apart():
    net = Net(proto_io.parse_net_text(SHARED_AND_BN), phase=1)
    learnable, stored = param_counts(net)
    ip = 5 * 48 + 5                 # shared by ipa and ipb: counted once
    conv = 6 * 3 * 9 + 6
    scale = 2 * 6
    bn = 2 * 6 + 1                  # mean, variance, scale factor
    assert learnable == ip + conv + scale
    assert stored == learnable + bn
    rows = {r[0]: r for r in summary_rows(net)}
    assert rows["conv"][2] == [(2, 6, 2, 2)] and rows["conv"][3] == [(6, 3, 3, 3), (6,)]
    assert rows["bn"][4] == bn


def test_cli_table_cifar10_quick():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-m", "caffeine.cli.main", "summary",
                             str(REPO / "models/cifar10_quick/deploy.prototxt")],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Learnable parameters: 145,578" in out
    lines = {ln.split()[0]: ln for ln in out.splitlines() if ln.strip()}
    assert "1x32x32x32" in lines["conv1"] and "32x3x5x5, 32" in lines["conv1"] and "2,432" in lines["conv1"]
    assert "1x64" in lines["ip1"] and "64x1024, 64" in lines["ip1"] and "65,600" in lines["ip1"]
    bad = subprocess.run([sys.executable, "-m", "caffeine.cli.main", "summary", "nonexistent.prototxt"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
