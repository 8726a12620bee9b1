"""`caffeine parse_log`: Caffe's parse_log.py CSVs from the real Caffe CIFAR-10 log and from
synthetic logs (lr back-fill, year roll-over, resumed runs)."""
import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from caffeine.cli.parse_log import parse_log

REPO = Path(__file__).resolve().parents[2]


def _cli(*args):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "caffeine.cli.main", "parse_log", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def _read(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def _oracle(log_path, kind):
    """Independent scan: (iteration, {output: value}) for every `<kind> net output` group."""
    groups, iteration = [], None
    for line in Path(log_path).read_text().splitlines():
        m = re.search(r"Iteration (\d+)", line)
        if m:
            iteration = int(m.group(1))
        m = re.search(kind + r" net output #(\d+): (\S+) = ([0-9.eE+-]+)", line)
        if m:
            if m.group(1) == "0":
                groups.append((iteration, {}))
            groups[-1][1][m.group(2)] = float(m.group(3))
    return groups


def test_real_caffe_log_matches_its_numbers(tmp_path, shared):
    log = shared("logs", "cifar10_quick_caffe_train.log")
    result = _cli(str(log), str(tmp_path))
    assert result.returncode == 0, result.stderr
    train = _read(tmp_path / "cifar10_quick_caffe_train.log.train")
    test = _read(tmp_path / "cifar10_quick_caffe_train.log.test")
    assert train[0] == ["NumIters", "Seconds", "LearningRate", "loss"]
    assert test[0] == ["NumIters", "Seconds", "LearningRate", "accuracy", "loss"]
    train_oracle, test_oracle = _oracle(log, "Train"), _oracle(log, "Test")
    assert len(train) - 1 == len(train_oracle) == 50
    assert len(test) - 1 == len(test_oracle) == 12
    for row, (it, values) in zip(train[1:], train_oracle):
        assert int(row[0]) == it and float(row[3]) == values["loss"]
    for row, (it, values) in zip(test[1:], test_oracle):
        assert int(row[0]) == it
        assert float(row[3]) == values["accuracy"] and float(row[4]) == values["loss"]
    # spot values read off the log by hand
    assert train[1] == ["0", "6.374808", "0.001", "2.30245"]           # 00:38:01.939831 - 00:37:55.565062
    assert test[1] == ["0", "6.264315", "0.001", "0.0926", "2.30268"]
    assert test[-1][0] == "5000" and test[-1][2:] == ["0.0001", "0.7491", "0.74817"]
    assert train[-1][0] == "4900" and train[-1][2:] == ["0.0001", "0.482015"]
    # the resumed second run restarts at 4000 and lowers the rate to 0.0001; as in Caffe's
    # parse_log.py a row carries the last rate printed before it, so 4000 still shows 0.001
    lrs = {int(r[0]): float(r[2]) for r in train[1:]}
    assert lrs[3900] == lrs[4000] == 0.001 and lrs[4100] == 0.0001
    seconds = [float(r[1]) for r in train[1:]]
    assert seconds == sorted(seconds) and seconds[-1] > 1000


def _write_log(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_lr_backfill_and_multiple_outputs(tmp_path):
    log = _write_log(tmp_path / "x.log", [
        "I0101 10:00:00.000000 1 solver.py:1] Solving toy",
        "I0101 10:00:00.500000 1 solver.py:2] Iteration 0, Testing net (#0)",
        "I0101 10:00:01.000000 1 solver.py:3]     Test net output #0: accuracy = 0.1",
        "I0101 10:00:01.000000 1 solver.py:3]     Test net output #1: loss = 2.5 (* 1 = 2.5 loss)",
        "I0101 10:00:01.250000 1 solver.py:4] Iteration 0, loss = 2.4",
        "I0101 10:00:01.250000 1 solver.py:4]     Train net output #0: loss = 2.4 (* 1 = 2.4 loss)",
        "I0101 10:00:01.250000 1 solver.py:4]     Train net output #1: top5 = 0.5",
        "I0101 10:00:01.300000 1 solver.py:5] Iteration 0, lr = 0.01",
        "this line has no timestamp and is skipped: Train net output #0: loss = 99",
        "I0101 10:00:03.000000 1 solver.py:4] Iteration 10, loss = 1.5",
        "I0101 10:00:03.000000 1 solver.py:4]     Train net output #0: loss = 1.5 (* 1 = 1.5 loss)",
        "I0101 10:00:03.000000 1 solver.py:4]     Train net output #1: top5 = 0.75",
        "I0101 10:00:03.100000 1 solver.py:5] Iteration 10, lr = 1e-3",
        "I0101 10:00:04.000000 1 solver.py:2] Iteration 20, Testing net (#0)",
        "I0101 10:00:05.000000 1 solver.py:3]     Test net output #0: accuracy = 0.9",
        "I0101 10:00:05.000000 1 solver.py:3]     Test net output #1: loss = 0.3 (* 1 = 0.3 loss)",
    ])
    train, test = parse_log(log, year=2024)
    assert [list(r.items()) for r in train] == [
        [("NumIters", 0), ("Seconds", 1.25), ("LearningRate", 0.01), ("loss", 2.4), ("top5", 0.5)],
        [("NumIters", 10), ("Seconds", 3.0), ("LearningRate", 0.01), ("loss", 1.5), ("top5", 0.75)],
    ]
    assert [(r["NumIters"], r["LearningRate"], r["accuracy"], r["loss"]) for r in test] == [
        (0, 0.001, 0.1, 2.5), (20, 0.001, 0.9, 0.3)]   # first row's NaN lr taken from the second


def test_year_rollover_keeps_seconds_increasing(tmp_path):
    log = _write_log(tmp_path / "y.log", [
        "I1231 23:59:59.000000 1 s.py:1] Solving toy",
        "I1231 23:59:59.500000 1 s.py:2] Iteration 0, loss = 1",
        "I1231 23:59:59.500000 1 s.py:2]     Train net output #0: loss = 1",
        "I0101 00:00:01.000000 1 s.py:2] Iteration 5, loss = 0.5",
        "I0101 00:00:01.000000 1 s.py:2]     Train net output #0: loss = 0.5",
    ])
    train, _ = parse_log(log, year=2023)
    assert [r["Seconds"] for r in train] == [0.5, 2.0]


def test_bad_input_exits_2(tmp_path):
    missing = _cli(str(tmp_path / "nope.log"), str(tmp_path))
    assert missing.returncode == 2 and "not found" in missing.stderr
    junk = tmp_path / "junk.log"
    junk.write_text("hello\nworld\n")
    result = _cli(str(junk), str(tmp_path))
    assert result.returncode == 2 and "not a training log" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_delimiter(tmp_path, shared, delimiter):
    log = shared("logs", "cifar10_quick_caffe_train.log")
    assert _cli(str(log), str(tmp_path), "--delimiter", delimiter).returncode == 0
    first = (tmp_path / "cifar10_quick_caffe_train.log.test").read_text().splitlines()[0]
    assert first == delimiter.join(["NumIters", "Seconds", "LearningRate", "accuracy", "loss"])
