"""Run the real `caffeine` CLI in a subprocess, as a user would."""
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args, cwd=None, timeout=600, env=None, check=False):
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "caffeine.cli.main", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"caffeine {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def last_value(text, name):
    """The last `name = value` in a Caffe-style log."""
    found = re.findall(rf"\]\s+{re.escape(name)} = ([-+0-9.eE]+)", text)
    return float(found[-1]) if found else None


def lenet_with_sources(tmp_path, train_lmdb=None, test_lmdb=None, name="lenet_tv.prototxt"):
    text = (REPO / "models" / "lenet" / "train_val.prototxt").read_text()
    if train_lmdb:
        text = text.replace("data/lenet/train_lmdb", str(train_lmdb))
    if test_lmdb:
        text = text.replace("data/lenet/test_lmdb", str(test_lmdb))
    path = Path(tmp_path) / name
    path.write_text(text)
    return path
