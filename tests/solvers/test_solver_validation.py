"""A bad solver.prototxt is rejected before training with file, line and field named."""
import pytest

from caffeine.errors import SolverError
from caffeine.solvers import AdaGradSolver, get_solver
from solver_testlib import TINY_NET, run_cli, write

GOOD = """net: "net.prototxt"
base_lr: 0.01
momentum: 0.9
lr_policy: "fixed"
max_iter: 10
"""


def solver_file(tmp_path, text):
    write(tmp_path / "net.prototxt", TINY_NET)
    return str(write(tmp_path / "solver.prototxt", text))


@pytest.mark.parametrize("change, field, match", [
    (("base_lr: 0.01", "base_lr: -0.01"), "base_lr", "base_lr must not be negative"),
    (("max_iter: 10", "max_iter: -5"), "max_iter", "max_iter must not be negative"),
    (("lr_policy: \"fixed\"", "lr_policy: \"stpe\""), "lr_policy", "did you mean 'step'"),
    (("lr_policy: \"fixed\"", "lr_policy: \"step\""), "stepsize", "positive stepsize"),
    (("max_iter: 10", "max_iter: 10\ntype: \"adam\""), "type", "did you mean 'Adam'"),
    (("max_iter: 10", "max_iter: 10\ntype: \"Adagrad\""), "type", "did you mean 'AdaGrad'"),
    (("max_iter: 10", "max_iter: 10\ntype: \"AdaGrad\""), "momentum", "Momentum cannot be used with AdaGrad"),
    (("momentum: 0.9", "rms_decay: 1.5\ntype: \"RMSProp\""), "rms_decay", "between 0 and 1"),
    (("max_iter: 10", "max_iter: 10\ntype: \"Adam\"\nmomentum2: 1"), "momentum2", "momentum2"),
    (("max_iter: 10", "max_iter: 10\nregularization_type: \"L3\""), "regularization_type", "L3"),
    (("max_iter: 10", "max_iter: 10\ntest_iter: 5"), "test_interval", "positive test_interval"),
    (("max_iter: 10", "max_iter: 10\ntest_net: \"net.prototxt\"\ntest_interval: 5"), "test_iter",
     "given for each test net"),
    (("max_iter: 10", "max_iter: 10\niter_size: 0"), "iter_size", "at least 1"),
    (("max_iter: 10", "max_iter: 10\naverage_loss: 0"), "average_loss", "at least 1"),
    (("max_iter: 10", "max_iter: 10\nweight_decay: -1"), "weight_decay", "must not be negative"),
    (("net: \"net.prototxt\"", ""), "net", "names no train net"),
    (("max_iter: 10", "max_iter: 10\ntrain_net: \"net.prototxt\""), "train_net", "more than one"),
    (("max_iter: 10", "max_iter: 10\ntest_iter: 5\ntest_interval: 5\ntest_state { stage: \"a\" }"
      "\ntest_state { stage: \"b\" }"), "test_state", "once per test net"),
])
def test_bad_value_names_file_line_and_field(tmp_path, change, field, match):
    path = solver_file(tmp_path, GOOD.replace(*change))
    with pytest.raises(SolverError, match=match) as info:
        get_solver(path)
    err = info.value
    assert err.field == field and err.file == path
    lines = (tmp_path / "solver.prototxt").read_text().splitlines()
    if any(line.startswith(field + ":") or line.startswith(field + " {") for line in lines):
        assert err.line is not None, "the line of a field present in the file should be reported"
        assert lines[err.line - 1].lstrip().startswith(field), (err.line, lines)
    else:
        assert err.line is None


def test_class_checks_its_own_rule(tmp_path):
    with pytest.raises(SolverError, match="Momentum cannot be used with AdaGrad"):
        AdaGradSolver(solver_file(tmp_path, GOOD))


def test_legacy_solver_type_enum_is_upgraded(tmp_path):
    path = solver_file(tmp_path, GOOD.replace("momentum: 0.9", "solver_type: NESTEROV\nmomentum: 0.9"))
    assert type(get_solver(path)).__name__ == "NesterovSolver"


def test_cli_reports_bad_solver_with_exit_2(tmp_path):
    solver_file(tmp_path, GOOD.replace("base_lr: 0.01", "base_lr: -0.01"))
    result = run_cli(["train", "--solver", "solver.prototxt"], cwd=tmp_path)
    assert result.returncode == 2
    assert "solver.prototxt:2" in result.stderr and "base_lr" in result.stderr
    assert "Traceback" not in result.stderr


def test_snapshot_folder_must_exist_before_training(tmp_path):
    path = solver_file(tmp_path, GOOD + 'snapshot: 5\nsnapshot_prefix: "missing/dir/m"\n')
    with pytest.raises(SolverError, match="Cannot write to snapshot prefix 'missing/dir/m'") as info:
        get_solver(path)
    assert info.value.field == "snapshot_prefix" and info.value.line == 7
