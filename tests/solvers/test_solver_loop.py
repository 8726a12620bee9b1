"""The training loop: Caffe's log lines, test nets, smoothing, callbacks, snapshot naming."""
import re

import numpy as np
import pytest

from caffeine.solvers import SGDSolver, get_solver
from solver_testlib import TINY_NET, record_losses, solver_param, write

# Caffe's tools/extra/parse_log.py patterns
ITERATION = re.compile(r"Iteration (\d+)")
TRAIN_OUTPUT = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
TEST_OUTPUT = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
LEARNING_RATE = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")

CONSTANT_NET = TINY_NET.replace('data_filler { type: "gaussian" std: 1 } data_filler { type: "gaussian" std: 1 }',
                                'data_filler { type: "constant" value: 0.5 } '
                                'data_filler { type: "constant" value: -1 }')
STAGED_NET = CONSTANT_NET + """
layer { name: "extra" type: "Power" bottom: "out" top: "extra" include { stage: "a" } }
"""


def messages(caplog):
    return [r.getMessage() for r in caplog.records]


def test_log_lines_are_caffes(tmp_path, caplog):
    caplog.set_level("INFO", logger="caffeine")
    prefix = str(tmp_path / "lenet")
    p = solver_param(f"""base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" display: 2 max_iter: 4
        test_iter: 1 test_interval: 4 snapshot: 4 snapshot_prefix: "{prefix}" random_seed: 1""")
    get_solver(p).solve()
    msgs = messages(caplog)
    assert any(re.fullmatch(r"Iteration 0 \(0 iter/s, [\d.e+-]+s/2 iters\), loss = [\d.e+-]+", m) for m in msgs)
    assert any(re.fullmatch(r"Iteration 2 \([\d.e+-]+ iter/s, [\d.e+-]+s/2 iters\), loss = [\d.e+-]+", m)
               for m in msgs)
    train = [m for m in msgs if TRAIN_OUTPUT.search(m)]
    assert train and all(re.fullmatch(r"    Train net output #0: loss = \S+ \(\* 1 = \S+ loss\)", m) for m in train)
    assert "Iteration 0, lr = 0.01" in msgs and "Iteration 2, lr = 0.01" in msgs
    assert all(LEARNING_RATE.search(m) for m in msgs if ", lr = " in m)
    assert "Iteration 4, Testing net (#0)" in msgs
    assert any(re.fullmatch(r"    Test net output #0: loss = \S+ \(\* 1 = \S+ loss\)", m) for m in msgs)
    assert f"Snapshotting to binary proto file {prefix}_iter_4.caffemodel" in msgs
    assert f"Snapshotting solver state to binary proto file {prefix}_iter_4.solverstate" in msgs
    assert msgs[-1] == "Optimization Done."
    assert any(re.fullmatch(r"Trained 4 iterations in [\d.]+ s \([\d.]+ iter/s, \d+ img/s\)", m) for m in msgs)
    # snapshot at 4 == max_iter: no second "after train" snapshot (Caffe's rule)
    assert sum("Snapshotting to" in m for m in msgs) == 1


def test_several_test_nets_with_stages_and_test_iters(caplog):
    caplog.set_level("INFO", logger="caffeine")
    p = solver_param("""base_lr: 0.01 lr_policy: "fixed" max_iter: 2 test_interval: 2
        test_iter: 2 test_iter: 3 test_state { stage: "a" } test_state { stage: "b" }
        test_compute_loss: true test_initialization: false snapshot_after_train: false""",
                     net=STAGED_NET)
    solver = get_solver(p)
    assert len(solver.test_nets) == 2
    assert "extra" in solver.test_nets[0].blobs and "extra" not in solver.test_nets[1].blobs
    solver.solve()
    msgs = messages(caplog)
    assert "Iteration 0, Testing net (#0)" not in msgs          # test_initialization: false
    assert "Iteration 2, Testing net (#0)" in msgs and "Iteration 2, Testing net (#1)" in msgs
    assert sum(m.startswith("Test loss: ") for m in msgs) == 2   # test_compute_loss
    first, second = solver.test_results
    assert set(first) == {"loss", "extra"} and set(second) == {"loss"}
    # constant data: the mean test loss is EuclideanLoss of the trained weights, computed here
    w, b = (blob.data for blob in solver.net.params["ip"])
    out = np.full((4, 3), 0.5, np.float32) @ w.T + b
    expected = float(np.sum((out + 1) ** 2) / 8)
    assert second["loss"] == pytest.approx(expected, rel=1e-5)
    assert first["loss"] == pytest.approx(expected, rel=1e-5)
    # test nets share the train net's weights
    assert solver.test_nets[1].params["ip"][0].shares_data_with(solver.net.params["ip"][0])


def test_average_loss_and_iter_size_smoothing():
    p = solver_param("""base_lr: 0.01 lr_policy: "fixed" max_iter: 7 iter_size: 2 average_loss: 3
        random_seed: 3 snapshot_after_train: false""")
    solver = get_solver(p)
    losses = record_losses(solver)
    solver.step(7)
    per_iter = [np.float32((np.float32(a) + np.float32(b)) / np.float32(2))
                for a, b in zip(losses[::2], losses[1::2])]
    assert len(per_iter) == 7
    assert solver.smoothed_loss == pytest.approx(float(np.mean(per_iter[-3:])), rel=1e-5)


def test_callbacks_run_in_caffes_order():
    solver = get_solver(solver_param('base_lr: 0.01 lr_policy: "fixed" max_iter: 3 '
                                     'snapshot_after_train: false'))
    events = []
    solver.add_callback(lambda: events.append(("start", solver.iter)),
                        lambda: events.append(("ready", solver.iter,
                                               bool(np.any(solver.net.params["ip"][0].diff)))))
    solver.solve()
    assert events == [("start", 0), ("ready", 0, True), ("start", 1), ("ready", 1, True),
                      ("start", 2), ("ready", 2, True)]


def test_debug_info_logs_update_norms(caplog):
    caplog.set_level("INFO", logger="caffeine")
    solver = get_solver(solver_param('base_lr: 0.01 lr_policy: "fixed" max_iter: 2 display: 1 '
                                     'debug_info: true snapshot_after_train: false'))
    solver.solve()
    msgs = messages(caplog)
    assert any(re.fullmatch(r"    \[Update\] Layer ip, param 0 data: \S+; diff: \S+", m) for m in msgs)
    assert any(m.startswith("    [Forward] Layer ip") for m in msgs)
    assert any(m.startswith("    [Backward] Layer ip") for m in msgs)


def test_loss_weight_is_shown(caplog):
    caplog.set_level("INFO", logger="caffeine")
    net = TINY_NET.replace('top: "loss" }', 'top: "loss" loss_weight: 0.5 }')
    get_solver(solver_param('base_lr: 0.01 lr_policy: "fixed" max_iter: 1 display: 1 '
                            'snapshot_after_train: false', net=net)).solve()
    line = [m for m in messages(caplog) if "Train net output #0" in m][0]
    value = float(TRAIN_OUTPUT.search(line).group(3))
    assert line.endswith(f"(* 0.5 = {np.float32(0.5) * np.float32(value):g} loss)")


def test_snapshot_prefix_defaults_and_relative_net(tmp_path, monkeypatch):
    model = tmp_path / "model"
    model.mkdir()
    write(model / "net.prototxt", TINY_NET)
    write(model / "solver.prototxt", 'net: "net.prototxt" base_lr: 0.01 lr_policy: "fixed" max_iter: 1\n')
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")      # net found next to the solver file
    solver = SGDSolver(str(model / "solver.prototxt"))
    solver.solve()                                  # no prefix: the solver file's name (Caffe)
    assert (model / "solver_iter_1.caffemodel").exists()
    write(model / "solver2.prototxt", 'net: "net.prototxt" base_lr: 0.01 lr_policy: "fixed" '
          'max_iter: 1 snapshot_prefix: "snaps"\n')
    (tmp_path / "elsewhere" / "snaps").mkdir()
    get_solver(str(model / "solver2.prototxt")).solve()   # a folder prefix: + the solver's name
    assert (tmp_path / "elsewhere" / "snaps" / "solver2_iter_1.caffemodel").exists()
    write(model / "solver3.prototxt", 'net: "net.prototxt" base_lr: 0.01 lr_policy: "fixed" '
          'max_iter: 1 snapshot_prefix: "sub/m"\n')
    (model / "sub").mkdir()
    get_solver(str(model / "solver3.prototxt")).solve()   # folder only next to the solver file
    assert (model / "sub" / "m_iter_1.caffemodel").exists()


def test_weights_field_and_copy_weights(tmp_path):
    first = get_solver(solver_param(f'base_lr: 0.01 lr_policy: "fixed" max_iter: 2 random_seed: 1 '
                                    f'snapshot_prefix: "{tmp_path / "a"}"'))
    first.solve()
    trained = first.net.params["ip"][0].data.copy()
    p = solver_param(f'base_lr: 0.01 lr_policy: "fixed" max_iter: 0 random_seed: 2 '
                     f'weights: "{tmp_path / "a_iter_2.caffemodel"}" snapshot_after_train: false')
    np.testing.assert_array_equal(get_solver(p).net.params["ip"][0].data, trained)
    p.ClearField("weights")
    other = get_solver(p)
    assert not np.array_equal(other.net.params["ip"][0].data, trained)
    other.copy_weights(str(tmp_path / "a_iter_2.caffemodel"))
    np.testing.assert_array_equal(other.net.params["ip"][0].data, trained)


def test_step_can_be_called_repeatedly_as_pycaffe():
    solver = get_solver(solver_param('base_lr: 0.01 lr_policy: "fixed" max_iter: 100'))
    solver.step(2)
    solver.step(3)
    assert solver.iter == 5
