"""The README's layer table is generated from the registry and must not drift."""
from pathlib import Path

from tools.layer_table import layer_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_has_the_current_layer_table():
    assert layer_table() in README.read_text()


def test_readme_main_job_and_test_command_are_the_ones_ci_uses():
    text = README.read_text()
    assert "bash tools/test.sh" in text
    assert "exec bash tools/test.sh" in (README.parent / ".ci" / "run").read_text()
    assert "caffeine data digits data/lenet" in text and "solver_digits.prototxt" in text
