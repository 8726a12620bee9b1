"""`caffeine draw_net`: graphviz drawings of the zoo nets (PNG/SVG with `dot`, .dot source
without it) and the message when `dot` is missing.

PNGs are also written to /tmp/caffeine_viz/ for a person to look at."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from caffeine.cli.draw_net import build_graph, draw_net_to_file
from caffeine.proto import io as proto_io

REPO = Path(__file__).resolve().parents[2]
VIZ = Path("/tmp/caffeine_viz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz `dot` not installed (.ci/run installs the graphviz package)")


def _cli(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "caffeine.cli.main", "draw_net", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _net(name, kind):
    return proto_io.read_net_param(REPO / "models" / name / f"{kind}.prototxt")


def test_graph_source_structure():
    src = build_graph(_net("cifar10_quick", "train_val"), rankdir="TB").source
    assert "rankdir=TB" in src
    for text in ("conv1", "(Convolution)", "5x5 /1 pad 2 -> 32", "MAX 3x3 /2", "AVE 3x3 /2", "-> 64",
                 "TEST only", "TRAIN only", "SoftmaxWithLoss"):
        assert text in src, text
    # relu1 rewrites pool1 in place: pool1 gets a second node, so the drawing has no self-loop
    assert src.count("label=pool1 ") + src.count('label=pool1\n') + src.count("label=pool1]") >= 2
    lines = [ln for ln in src.splitlines() if "->" in ln]
    assert all(ln.split("->")[0].strip() != ln.split("->")[1].strip().split()[0] for ln in lines)


def test_phase_filter():
    train = build_graph(_net("cifar10_quick", "train_val"), phase="TRAIN").source
    test = build_graph(_net("cifar10_quick", "train_val"), phase="TEST").source
    assert "(Accuracy)" not in train and "(Accuracy)" in test
    assert "TRAIN only" in train and "TRAIN only" not in test


def test_dot_source_needs_no_graphviz(tmp_path):
    out = tmp_path / "lenet.dot"
    result = _cli(str(REPO / "models/lenet/deploy.prototxt"), str(out), env_extra={"PATH": ""})
    assert result.returncode == 0, result.stderr
    assert out.read_text().startswith("digraph")


def test_missing_dot_gives_clear_message(tmp_path):
    result = _cli(str(REPO / "models/lenet/deploy.prototxt"), str(tmp_path / "x.png"), env_extra={"PATH": ""})
    assert result.returncode == 1
    assert "Graphviz's `dot`" in result.stderr and "apt-get install graphviz" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.png").exists()


def test_bad_arguments_exit_2(tmp_path):
    net = str(REPO / "models/lenet/deploy.prototxt")
    for args, word in [((net, str(tmp_path / "x.png"), "--rankdir", "UP"), "rankdir"),
                       ((net, str(tmp_path / "x.png"), "--phase", "DEPLOY"), "phase"),
                       ((net, str(tmp_path / "x.gif")), "format"),
                       ((str(tmp_path / "none.prototxt"), str(tmp_path / "x.png")), "none.prototxt")]:
        result = _cli(*args)
        assert result.returncode == 2, args
        assert word in result.stderr and "Traceback" not in result.stderr


@needs_dot
@pytest.mark.parametrize("name,kind,rankdir", [("cifar10_quick", "train_val", "LR"), ("lenet", "deploy", "TB")])
def test_png(tmp_path, name, kind, rankdir):
    out = tmp_path / f"{name}.png"
    result = _cli(str(REPO / "models" / name / f"{kind}.prototxt"), str(out), "--rankdir", rankdir)
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.image as mpimg
    img = mpimg.imread(str(out))
    height, width = img.shape[:2]
    assert (width > height) if rankdir == "LR" else (height > width)
    VIZ.mkdir(parents=True, exist_ok=True)
    (VIZ / f"draw_net_{name}_{rankdir}.png").write_bytes(data)


@needs_dot
def test_svg_googlenet(tmp_path):
    out = tmp_path / "googlenet.svg"
    draw_net_to_file(_net("bvlc_googlenet", "deploy"), str(out), rankdir="TB")
    text = out.read_text()
    assert "<svg" in text and "inception_5b/output" in text and "loss3/classifier" in text
