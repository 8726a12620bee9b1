"""A snapshot write that fails or is killed half-way never damages the previous snapshot."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from caffeine.proto import io as proto_io
from caffeine.solvers import get_solver
from solver_testlib import python_env, solver_param

FORMATS = {"BINARYPROTO": (".caffemodel", ".solverstate"),
           "HDF5": (".caffemodel.h5", ".solverstate.h5")}


def param(prefix, fmt="BINARYPROTO", max_iter=4):
    return solver_param(f"""base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: {max_iter}
        snapshot: 2 random_seed: 4 snapshot_prefix: "{prefix}" snapshot_format: {fmt}""")


def folder_state(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


class Boom(Exception):
    pass


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("failing", ["model", "state", "interrupt"])
def test_failed_write_keeps_the_previous_snapshot(tmp_path, monkeypatch, fmt, failing):
    model_ext, state_ext = FORMATS[fmt]
    prefix = str(tmp_path / "m")
    solver = get_solver(param(prefix, fmt))
    solver.step(2)                                  # writes m_iter_2.*
    before = folder_state(tmp_path)
    assert f"m_iter_2{state_ext}" in before and f"m_iter_2{model_ext}" in before

    real_open = proto_io.atomic_open
    target = model_ext if failing in ("model", "interrupt") else state_ext

    class HalfWriter:
        """Writes half of the bytes, then fails (disk full, or Ctrl-C forced)."""

        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            self.f.flush()
            raise KeyboardInterrupt() if failing == "interrupt" else Boom("disk full")

        def __getattr__(self, name):
            return getattr(self.f, name)

    import contextlib

    @contextlib.contextmanager
    def failing_open(path, mode="wb"):
        with real_open(path, mode) as f:
            yield HalfWriter(f) if str(path).endswith(target) else f

    monkeypatch.setattr(proto_io, "atomic_open", failing_open)
    # the same-name case too: rewrite iteration 2's snapshot, then iteration 4's
    for _ in range(2):
        with pytest.raises(KeyboardInterrupt if failing == "interrupt" else Boom):
            solver.snapshot()
        solver.iter = 4
    after = folder_state(tmp_path)
    for name, data in before.items():
        assert after[name] == data, f"{name} changed"
    assert not [n for n in after if n.endswith(".tmp")], "temporary files left behind"
    assert f"m_iter_4{state_ext}" not in after        # no state that points at a broken model
    monkeypatch.undo()
    resumed = get_solver(param(prefix, fmt))
    resumed.restore(f"{prefix}_iter_2{state_ext}")
    assert resumed.iter == 2


# ---- kill -9 in the middle of a snapshot -------------------------------------------------------

DRIVER = r"""
import sys, time
from caffeine.proto import io as proto_io
from caffeine.solvers import get_solver
from google.protobuf import text_format
from caffeine.proto import caffe_pb2

def slow_atomic_write_bytes(path, data):
    # a slow disk: the real atomic writer, fed in small chunks
    with proto_io.atomic_open(path, "wb") as f:
        for i in range(0, len(data), 1 << 15):
            f.write(data[i:i + (1 << 15)])
            f.flush()
            time.sleep(0.002)
proto_io.atomic_write_bytes = slow_atomic_write_bytes

p = text_format.Parse(open(sys.argv[1]).read(), caffe_pb2.SolverParameter())
solver = get_solver(p)
solver.solve()
"""

BIG_NET = """
name: "big"
layer { name: "data" type: "DummyData" top: "x" top: "y"
  dummy_data_param { shape { dim: 2 dim: 400 } shape { dim: 2 dim: 400 }
    data_filler { type: "gaussian" std: 1 } data_filler { type: "gaussian" std: 1 } } }
layer { name: "ip" type: "InnerProduct" bottom: "x" top: "out"
  inner_product_param { num_output: 400 weight_filler { type: "gaussian" std: 0.01 } } }
layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "y" top: "loss" }
"""


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_kill_9_during_snapshot_leaves_previous_snapshot_intact(tmp_path, fmt):
    model_ext, state_ext = FORMATS[fmt]
    from google.protobuf import text_format
    p = solver_param(f"""base_lr: 0.001 momentum: 0.9 lr_policy: "fixed" max_iter: 1000000
        snapshot: 1 random_seed: 4 snapshot_prefix: "{tmp_path / 'm'}" snapshot_format: {fmt}""",
                     net=BIG_NET)
    (tmp_path / "solver.txt").write_text(text_format.MessageToString(p))
    (tmp_path / "driver.py").write_text(DRIVER)
    for attempt in range(3):
        proc = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "solver.txt")],
                                cwd=tmp_path, env=python_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            killed_mid_write = False
            while time.time() < deadline:
                states = list(tmp_path.glob(f"m_iter_*{state_ext}"))
                temps = [t for t in tmp_path.glob(".m_iter_*.tmp")]
                if len(states) >= 2 + attempt and temps:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed_mid_write = True
                    break
                if proc.poll() is not None:
                    break
                time.sleep(0.001)
            assert killed_mid_write, "could not catch the trainer while it was writing"
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for stale in tmp_path.glob(".m_iter_*.tmp"):   # what kill -9 leaves: hidden temp files only
            stale.unlink()
        # every snapshot under its final name is complete and loads; the newest one resumes
        states = sorted(tmp_path.glob(f"m_iter_*{state_ext}"),
                        key=lambda s: int(s.name.split("_iter_")[1].split(".")[0]))
        for state in states:
            solver = get_solver(p)
            solver.restore(str(state))
            assert np.all(np.isfinite(solver.net.params["ip"][0].data))
        for model in tmp_path.glob(f"m_iter_*{model_ext}"):
            solver.net.copy_from(str(model))   # no truncated caffemodel under a final name
        last = int(states[-1].name.split("_iter_")[1].split(".")[0])
        p.max_iter = last + 1
        solver = get_solver(p)
        solver.solve(resume_file=str(states[-1]))
        assert solver.iter == last + 1
        p.max_iter = 1000000
