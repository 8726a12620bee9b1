"""The wheel a plain `pip install .` builds carries the generated protobuf module and the
CUDA kernel sources (needed by GPU users who never clone the repo)."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_proto_module_kernels_and_console_script(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path), "-q"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("caffeine_dl-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "caffeine/proto/caffe_pb2.py" in names
    kernels = {p.name for p in (REPO / "layers_cuda").glob("*.cu")}
    assert kernels and {f"caffeine/layers_cuda/{k}" for k in kernels} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "caffeine = caffeine.cli.main:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
