"""Training through the real CLI: determinism, resume, fine-tuning (issue 3 must-shows)."""
import re

import lmdb
import pytest

from caffeine.proto import caffe_pb2
from tests.e2e.cli import REPO, last_value, lenet_with_sources, run_cli

SOLVER = '''net: "{net}"
test_iter: {test_iter}
test_interval: {test_interval}
test_initialization: false
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
display: 50
max_iter: {max_iter}
snapshot: {snapshot}
snapshot_prefix: "{prefix}"
random_seed: 1701
'''


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    out = tmp_path_factory.mktemp("digits")
    run_cli("data", "digits", out, "--train", 3000, "--test", 500, check=True)
    return out


def write_solver(tmp_path, net, name="solver.prototxt", max_iter=200, snapshot=0, test_iter=5,
                 test_interval=10000, prefix=None):
    path = tmp_path / name
    path.write_text(SOLVER.format(net=net, max_iter=max_iter, snapshot=snapshot, test_iter=test_iter,
                                  test_interval=test_interval, prefix=prefix or tmp_path / "snap" / "lenet"))
    (tmp_path / "snap").mkdir(exist_ok=True)
    return path


def test_same_seed_gives_byte_identical_caffemodels(digits, tmp_path):
    net = lenet_with_sources(tmp_path, digits / "train_lmdb", digits / "test_lmdb")
    models = []
    for run in ("a", "b"):
        d = tmp_path / run
        d.mkdir()
        solver = write_solver(d, net, max_iter=40, prefix=d / "lenet")
        run_cli("train", "--solver", solver, check=True)
        models.append((d / "lenet_iter_40.caffemodel").read_bytes())
    assert models[0] == models[1]


def test_resume_from_snapshot_equals_straight_run(digits, tmp_path):
    net = lenet_with_sources(tmp_path, digits / "train_lmdb", digits / "test_lmdb")
    straight = tmp_path / "straight"
    straight.mkdir()
    run_cli("train", "--solver", write_solver(straight, net, prefix=straight / "lenet"), check=True)
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    solver = write_solver(resumed, net, prefix=resumed / "lenet")
    # stop at iteration 100 (the snapshot after training), then resume to 200
    run_cli("train", "--solver", solver, "--iterations", 100, check=True)
    assert (resumed / "lenet_iter_100.solverstate").exists()
    proc = run_cli("train", "-solver", solver, "-snapshot", resumed / "lenet_iter_100.solverstate", check=True)
    assert "Iteration 100" in proc.stderr
    assert (straight / "lenet_iter_200.caffemodel").read_bytes() == (resumed / "lenet_iter_200.caffemodel").read_bytes()


def _five_class_lmdb(src, dst):
    """Copy the Datums with labels 0-4 (the 5-class fine-tuning task)."""
    env_in = lmdb.open(str(src), readonly=True, lock=False)
    env_out = lmdb.open(str(dst), map_size=1 << 28)
    datum = caffe_pb2.Datum()
    with env_in.begin() as txn_in, env_out.begin(write=True) as txn_out:
        for key, value in txn_in.cursor():
            datum.ParseFromString(value)
            if datum.label < 5:
                txn_out.put(key, value)
    env_in.close()
    env_out.close()


def test_finetune_real_lenet_to_renamed_five_class_head(digits, tmp_path, shared):
    weights = shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel")
    _five_class_lmdb(digits / "train_lmdb", tmp_path / "train5")
    _five_class_lmdb(digits / "test_lmdb", tmp_path / "test5")
    net = lenet_with_sources(tmp_path, tmp_path / "train5", tmp_path / "test5")
    text = net.read_text().replace('name: "ip2"', 'name: "ip2_digits5"').replace("num_output: 10", "num_output: 5")
    net.write_text(text)
    solver = write_solver(tmp_path, net, max_iter=100, test_iter=2, test_interval=100)
    proc = run_cli("train", "--solver", solver, "--weights", weights, check=True)
    log = proc.stderr
    for layer in ("conv1", "conv2", "ip1"):
        assert f"Copying source layer {layer}" in log
    assert "Ignoring source layer ip2" in log
    assert re.search(r"ip2_digits5 was NOT initialized", log)
    # the fine-tuning table: every learnable layer and what happened to it
    assert re.search(r"\] conv1 +Convolution +20x1x5x5 20 +copied", log)
    assert re.search(r"\] ip2_digits5 +InnerProduct +5x500 5 +NEW: filler init", log)
    assert re.search(r"\] ip2 +- +- +ignored: in weights, not in this net", log)
    accuracy = last_value(log, "Test net output #0: accuracy")
    assert accuracy is not None and accuracy >= 0.97, log[-2000:]


@pytest.mark.slow
def test_readme_main_job_reaches_97_percent_in_3_minutes(tmp_path):
    """The README's main job: digits, LeNet for 2,000 iterations, then `caffeine test`."""
    (tmp_path / "models").symlink_to(REPO / "models")
    run_cli("data", "digits", tmp_path / "data" / "lenet", cwd=tmp_path, check=True)
    proc = run_cli("train", "--solver", "models/lenet/solver_digits.prototxt", cwd=tmp_path, check=True)
    seconds = float(re.search(r"Trained 2000 iterations in ([0-9.]+) s", proc.stderr).group(1))
    assert seconds < 180, f"training took {seconds} s"
    assert re.search(r"[0-9.]+ img/s", proc.stderr)
    weights = tmp_path / "data" / "lenet" / "lenet_digits_iter_2000.caffemodel"
    test = run_cli("test", "--model", "models/lenet/train_val.prototxt", "--weights", weights,
                   "--iterations", 40, cwd=tmp_path, check=True)
    assert last_value(test.stderr, "accuracy") >= 0.97
