"""Every layers_cuda/*.cu compiles for the device without a GPU:

- with nvcc (when installed; CI has nvcc 13): a cubin for sm_90, so ptxas runs too, warnings
  as errors, float and double builds;
- with NVRTC (when libnvrtc is installed: the nvidia-cuda-nvrtc wheel), the compiler CuPy
  uses at run time, on exactly the text and options caffeine.backend.get_kernel passes;
and every ``extern "C" __global__`` kernel comes out under its unmangled name.
"""
import os
import re
import shutil
import subprocess

import pytest

from caffeine import backend
from caffeine.testing import nvrtc_check

SOURCES = sorted(f[:-3] for f in os.listdir(backend.KERNEL_DIR) if f.endswith(".cu"))
KERNEL = re.compile(r'extern "C" __global__ void (\w+)\(')


def nvcc():
    return shutil.which("nvcc") or next((p for p in ("/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc")
                                         if os.path.exists(p)), None)


def kernel_names(stem):
    with open(backend.kernel_source_path(stem), encoding="utf-8") as f:
        return KERNEL.findall(f.read())


def test_the_expected_kernel_files_exist():
    expected = {"im2col", "pooling", "lrn", "softmax", "neuron", "batch_norm", "concat", "slice", "crop", "tile",
                "eltwise", "losses", "solver_updates", "data_transform", "scale_bias", "reduction", "mvn",
                "prob_losses", "accuracy", "argmax", "index_copy", "recurrent"}
    assert expected <= set(SOURCES)
    for stem in SOURCES:
        assert kernel_names(stem), f"{stem}.cu declares no extern \"C\" __global__ kernel"


@pytest.mark.parametrize("double", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["float", "double"])
def test_nvcc_compiles_every_kernel_file(double, tmp_path):
    compiler = nvcc()
    if compiler is None:
        pytest.skip("nvcc not found")
    cmd = [compiler, "-cubin", "-arch=sm_90", f"-I{backend.KERNEL_DIR}", "-Werror", "all-warnings",
           "-odir", str(tmp_path)] + (["-DCAFFEINE_DOUBLE"] if double else [])
    cmd += [backend.kernel_source_path(s) for s in SOURCES]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for stem in SOURCES:
        cubin = (tmp_path / f"{stem}.cubin").read_bytes()
        for name in kernel_names(stem):
            assert name.encode() + b"\0" in cubin, f"{stem}.cubin lacks kernel {name}"


@pytest.mark.parametrize("stem", SOURCES)
def test_nvrtc_compiles_like_cupy(stem):
    if nvrtc_check.library() is None:
        pytest.skip("libnvrtc not found (pip install nvidia-cuda-nvrtc)")
    for double in (False, True):
        ptx, log = nvrtc_check.compile_kernels(stem, double=double)
        assert "warning" not in log.lower(), log
        for name in kernel_names(stem):
            assert re.search(rf"\.entry {name}\(", ptx), f"{stem}.cu ({'double' if double else 'float'}): no {name}"
        if double:
            assert ".f64" in ptx
