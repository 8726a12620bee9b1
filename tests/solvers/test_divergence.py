"""NaN/Inf stops training, names the first bad layer, and saves the last good state."""
import re

import numpy as np
import pytest

from caffeine.errors import TrainingDiverged
from caffeine.proto import io as proto_io
from caffeine.solvers import get_solver
from solver_testlib import TINY_NET, run_cli, solver_param, write


def param(prefix, base_lr, rule="SGD", max_iter=200, net=TINY_NET):
    momentum = "momentum: 0.9" if rule != "AdaGrad" else ""
    return solver_param(f"""type: "{rule}" base_lr: {base_lr} {momentum} lr_policy: "fixed"
        max_iter: {max_iter} random_seed: 11 snapshot_prefix: "{prefix}" """, net=net)


def weights(path):
    model = proto_io.read_net_binary(str(path))
    ip = [layer for layer in model.layer if layer.name == "ip"][0]
    return [np.asarray(b.data, np.float32) for b in ip.blobs]


def test_update_overflow_stops_at_once_with_the_initial_weights_saved(tmp_path):
    solver = get_solver(param(str(tmp_path / "m"), 3e38))   # * lr_mult 2 overflows float32
    initial = [b.data.copy() for b in solver.net.learnable_params]
    with pytest.raises(TrainingDiverged) as info:
        solver.solve()
    message = str(info.value)
    assert "iteration 0" in message and "layer 'ip' param" in message
    assert info.value.iteration == 0
    # the params were rolled back: the snapshot holds the last good (= initial) weights
    saved = weights(tmp_path / "m_iter_0.caffemodel")
    for got, want in zip(saved, initial):
        np.testing.assert_array_equal(got.ravel(), want.ravel())
    for blob, want in zip(solver.net.learnable_params, initial):
        np.testing.assert_array_equal(blob.data, want)


@pytest.mark.parametrize("rule", ["SGD", "Nesterov", "Adam"])
def test_exploding_training_saves_the_last_good_iteration(tmp_path, rule):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lr = 3.0 if rule != "Adam" else 1e30
    solver = get_solver(param(str(tmp_path / "a" / "m"), lr, rule))
    with pytest.raises(TrainingDiverged) as info:
        solver.solve()
    message = str(info.value)
    k = info.value.iteration
    assert re.search(rf"Training diverged at iteration {k}\b", message)
    assert "layer 'ip'" in message or "layer 'loss'" in message, message
    assert info.value.snapshot.endswith(f"m_iter_{k}.solverstate")
    saved = weights(tmp_path / "a" / f"m_iter_{k}.caffemodel")
    assert all(np.all(np.isfinite(w)) for w in saved)
    # the saved state is exactly the state after k good iterations of the same run ...
    straight = get_solver(param(str(tmp_path / "b" / "m"), lr, rule, max_iter=k))
    straight.solve()
    assert (tmp_path / "a" / f"m_iter_{k}.caffemodel").read_bytes() == \
        (tmp_path / "b" / f"m_iter_{k}.caffemodel").read_bytes()
    # ... and it restores
    resumed = get_solver(param(str(tmp_path / "a" / "m"), lr, rule))
    resumed.restore(str(tmp_path / "a" / f"m_iter_{k}.solverstate"))
    assert resumed.iter == k
    for blob, other in zip(resumed.net.learnable_params, straight.net.learnable_params):
        np.testing.assert_array_equal(blob.data, other.data)


NAN_INPUT_NET = TINY_NET.replace('data_filler { type: "gaussian" std: 1 } data_filler',
                                 'data_filler { type: "constant" value: nan } data_filler', 1)


def test_nan_input_names_the_data_layer(tmp_path):
    assert NAN_INPUT_NET != TINY_NET
    solver = get_solver(param(str(tmp_path / "m"), 0.01, net=NAN_INPUT_NET))
    with pytest.raises(TrainingDiverged, match=r"iteration 0: loss = nan; layer 'data' \(DummyData\)"):
        solver.solve()


def test_guard_can_be_turned_off(tmp_path):
    solver = get_solver(param(str(tmp_path / "m"), 1e38, max_iter=2))
    solver.check_divergence = False
    solver.solve()   # Caffe's behaviour: trains on with non-finite weights
    assert not np.all(np.isfinite(solver.net.params["ip"][0].data))


def test_cli_exits_1_with_the_message(tmp_path):
    write(tmp_path / "net.prototxt", TINY_NET)
    write(tmp_path / "solver.prototxt", 'net: "net.prototxt" base_lr: 3e38 lr_policy: "fixed" '
          'max_iter: 10 random_seed: 1 snapshot_prefix: "m"\n')
    result = run_cli(["train", "--solver", "solver.prototxt"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Training diverged at iteration 0" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "m_iter_0.caffemodel").exists()
