"""SIGINT / SIGHUP as Caffe: requests are honoured between iterations.

In-process tests send the signal from a solver callback (deterministic iteration);
the subprocess tests run the real ``caffeine train`` and signal it while it trains.
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from caffeine.errors import UsageError
from caffeine.solvers import SGDSolver, get_solver
from caffeine.solvers.signals import SignalHandler, parse_effect
from solver_testlib import TINY_NET, python_env, solver_param, write

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX signals")


def param(prefix, max_iter=10):
    return solver_param(f"""base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: {max_iter}
        random_seed: 2 snapshot_prefix: "{prefix}" """)


def signal_at(solver, iteration, signum):
    """Send ``signum`` to this process from the on_gradients_ready callback of ``iteration``."""
    def ready():
        if solver.iter == iteration:
            os.kill(os.getpid(), signum)
    solver.add_callback(lambda: None, ready)


def test_sigint_stops_after_the_current_iteration_with_a_snapshot(tmp_path):
    solver = get_solver(param(str(tmp_path / "m")))
    signal_at(solver, 3, signal.SIGINT)
    with SignalHandler("stop", "snapshot") as handler:
        solver.set_action_function(handler.get_requested_action)
        solver.solve()
    assert solver.iter == 4 and solver.requested_early_exit
    assert sorted(p.name for p in tmp_path.glob("*.solverstate")) == ["m_iter_4.solverstate"]
    again = get_solver(param(str(tmp_path / "m")))
    again.restore(str(tmp_path / "m_iter_4.solverstate"))
    assert again.iter == 4


def test_sighup_snapshots_and_training_continues(tmp_path):
    solver = get_solver(param(str(tmp_path / "m")))
    signal_at(solver, 2, signal.SIGHUP)
    with SignalHandler("stop", "snapshot") as handler:
        solver.set_action_function(handler.get_requested_action)
        solver.solve()
    assert solver.iter == 10 and not solver.requested_early_exit
    names = sorted(p.name for p in tmp_path.glob("*.solverstate"))
    assert names == ["m_iter_10.solverstate", "m_iter_3.solverstate"]


def test_effect_none_ignores_the_signal(tmp_path):
    solver = get_solver(param(str(tmp_path / "m"), max_iter=5))
    signal_at(solver, 1, signal.SIGINT)
    with SignalHandler("none", "none") as handler:
        solver.set_action_function(handler.get_requested_action)
        solver.solve()
    assert solver.iter == 5 and not solver.requested_early_exit


def test_second_sigint_while_stopping_raises_keyboardinterrupt():
    with SignalHandler("stop", "snapshot") as handler:
        os.kill(os.getpid(), signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
        assert handler.get_requested_action() == "stop"
    assert signal.getsignal(signal.SIGINT) is not handler._on_sigint  # uninstalled


def test_bad_effect_is_a_usage_error():
    with pytest.raises(UsageError, match="invalid effect 'halt'"):
        parse_effect("halt", "--sigint_effect")
    assert parse_effect("SNAPSHOT") == "snapshot"


# ---- the real command line ---------------------------------------------------------------------

class Trainer:
    """``caffeine train`` in a subprocess; stderr lines collected by a thread."""

    def __init__(self, tmp_path, *flags):
        write(tmp_path / "net.prototxt", TINY_NET)
        write(tmp_path / "solver.prototxt", 'net: "net.prototxt" base_lr: 0.001 momentum: 0.9 '
              'lr_policy: "fixed" max_iter: 100000000 display: 200 random_seed: 1 '
              'snapshot_prefix: "snap/m"\n')
        (tmp_path / "snap").mkdir()
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "caffeine.cli.main", "train", "--solver", "solver.prototxt", *flags],
            cwd=tmp_path, env=python_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern, after=0, timeout=60):
        regex = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i in range(after, len(self.lines)):
                if regex.search(self.lines[i]):
                    return i
            if self.proc.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.02)
        self.finish_killed()
        raise AssertionError(f"no line matching {pattern!r}; last lines:\n" + "\n".join(self.lines[-15:]))

    def finish_killed(self):
        self.proc.kill()
        self.finish()

    def finish(self, timeout=60):
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.reader.join(timeout=5)
            self.proc.stdout.close()
        return rc


def snapshot_iters(lines):
    return [int(m.group(1)) for line in lines
            for m in [re.search(r"Snapshotting to binary proto file snap/m_iter_(\d+)\.caffemodel", line)]
            if m]


def test_cli_sigint_stops_with_a_snapshot_that_loads(tmp_path):
    trainer = Trainer(tmp_path)
    trainer.wait_for(r"Iteration 400 \(")
    trainer.proc.send_signal(signal.SIGINT)
    assert trainer.finish() == 0
    text = "\n".join(trainer.lines)
    assert "Optimization stopped early." in text and "Traceback" not in text
    (stopped,) = snapshot_iters(trainer.lines)
    solver = SGDSolver(str(tmp_path / "solver.prototxt"))
    solver.restore(str(tmp_path / "snap" / f"m_iter_{stopped}.solverstate"))
    assert solver.iter == stopped >= 400


def test_cli_sighup_snapshots_and_continues(tmp_path):
    trainer = Trainer(tmp_path)
    trainer.wait_for(r"Iteration 400 \(")
    trainer.proc.send_signal(signal.SIGHUP)
    first = trainer.wait_for(r"Snapshotting solver state to binary proto file")
    trainer.wait_for(r"Iteration \d+ \(", after=first + 1)   # still training
    assert trainer.proc.poll() is None
    trainer.proc.send_signal(signal.SIGINT)
    assert trainer.finish() == 0
    iters = snapshot_iters(trainer.lines)
    assert len(iters) == 2 and iters[0] < iters[1]
    for it in iters:
        solver = SGDSolver(str(tmp_path / "solver.prototxt"))
        solver.restore(str(tmp_path / "snap" / f"m_iter_{it}.solverstate"))
        assert solver.iter == it


def test_cli_sigint_effect_none_and_sighup_stop(tmp_path):
    trainer = Trainer(tmp_path, "--sigint_effect", "none", "--sighup_effect", "stop")
    trainer.wait_for(r"Iteration 400 \(")
    trainer.proc.send_signal(signal.SIGINT)
    seen = trainer.wait_for(r"SIGINT received: ignored")
    trainer.wait_for(r"Iteration \d+ \(", after=seen + 1)
    assert trainer.proc.poll() is None
    trainer.proc.send_signal(signal.SIGHUP)
    assert trainer.finish() == 0
    assert "Optimization stopped early." in "\n".join(trainer.lines)
