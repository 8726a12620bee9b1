"""`caffeine plot_log`: a PNG of loss / accuracy / lr vs iteration from the real Caffe log.

The PNG is also written to /tmp/caffeine_viz/plot_log_cifar10_quick.png for a person to look at."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from caffeine.cli.parse_log import parse_log
from caffeine.cli.plot_log import plot_rows

REPO = Path(__file__).resolve().parents[2]
VIZ = Path("/tmp/caffeine_viz")


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "caffeine.cli.main", "plot_log", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def _image(path):
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.image as mpimg
    return mpimg.imread(str(path))


def test_plot_real_log_png(tmp_path, shared):
    log = shared("logs", "cifar10_quick_caffe_train.log")
    out = tmp_path / "cifar.png"
    result = _cli(str(log), str(out))
    assert result.returncode == 0, result.stderr
    assert "train loss (50 points)" in result.stdout
    assert "test accuracy (12 points)" in result.stdout and "learning rate (50 points)" in result.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = _image(out)
    assert img.shape[0] > img.shape[1] > 500          # three stacked panels
    assert img[..., :3].std() > 0.05                  # not a blank canvas
    VIZ.mkdir(parents=True, exist_ok=True)
    out2 = VIZ / "plot_log_cifar10_quick.png"
    out2.write_bytes(out.read_bytes())


def test_panels_and_series(tmp_path, shared):
    train, test = parse_log(shared("logs", "cifar10_quick_caffe_train.log"))
    drawn = plot_rows(train, test, tmp_path / "x.png", x="seconds", charts=["loss", "accuracy"])
    assert [(c, label) for c, label, _ in drawn] == [
        ("loss", "train loss"), ("loss", "test loss"), ("accuracy", "test accuracy")]
    drawn = plot_rows(train, test, tmp_path / "lr.svg", charts=["lr"])
    assert drawn == [("lr", "learning rate", 50)]
    assert b"<svg" in (tmp_path / "lr.svg").read_bytes()[:500]


def test_one_panel_is_smaller_than_three(tmp_path, shared):
    train, test = parse_log(shared("logs", "cifar10_quick_caffe_train.log"))
    plot_rows(train, test, tmp_path / "one.png", charts=["loss"])
    plot_rows(train, test, tmp_path / "three.png")
    one, three = _image(tmp_path / "one.png"), _image(tmp_path / "three.png")
    assert one.shape[0] * 2 < three.shape[0]
    assert np.isfinite(one).all()


def test_bad_arguments_exit_2(tmp_path, shared):
    log = shared("logs", "cifar10_quick_caffe_train.log")
    bad_chart = _cli(str(log), str(tmp_path / "x.png"), "--charts", "loss,speed")
    assert bad_chart.returncode == 2 and "speed" in bad_chart.stderr
    bad_ext = _cli(str(log), str(tmp_path / "x.jpg"), "--charts", "lr")
    assert bad_ext.returncode == 2 and ".png" in bad_ext.stderr
    assert "Traceback" not in bad_chart.stderr + bad_ext.stderr
