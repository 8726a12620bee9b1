"""Mode/device switch and the only module that imports CuPy.

Caffe keeps a global ``Caffe::mode()``; so does caffeine, here and nowhere else.
CuPy is imported lazily the first time GPU mode or a kernel is asked for; when the
import fails the original error is kept and shown to the user.
"""
import os
import threading

import numpy as np

from caffeine.errors import ConfigError

CPU = "CPU"
GPU = "GPU"

_state = threading.local()
_mode = {"mode": CPU, "device": 0}
_cupy = {"module": None, "error": None, "tried": False}
_kernel_cache = {}

KERNEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "layers_cuda")
if not os.path.isdir(KERNEL_DIR):  # installed (non-editable) package: kernels shipped inside
    KERNEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layers_cuda")


class GPUUnavailableError(ConfigError):
    """GPU mode was asked for but CuPy or a CUDA device is missing."""


def _import_cupy():
    if not _cupy["tried"]:
        _cupy["tried"] = True
        try:
            import cupy  # noqa: PLC0415 - the one place caffeine imports CuPy
            _cupy["module"] = cupy
        except Exception as exc:  # ImportError, or CUDA driver errors raised at import
            _cupy["error"] = exc
    return _cupy["module"]


def cupy_or_raise():
    """Return the cupy module or raise GPUUnavailableError with the original reason."""
    cp = _import_cupy()
    if cp is None:
        raise GPUUnavailableError(
            "GPU mode needs CuPy (pip install 'caffeine-dl[cuda]'); importing cupy failed: "
            f"{type(_cupy['error']).__name__}: {_cupy['error']}")
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:
        raise GPUUnavailableError(f"GPU mode asked for but no CUDA device is usable: {exc}") from None
    if count == 0:
        raise GPUUnavailableError("GPU mode asked for but no CUDA device was found")
    return cp


def gpu_available():
    try:
        cupy_or_raise()
        return True
    except GPUUnavailableError:
        return False


def set_mode_cpu():
    _mode["mode"] = CPU


def set_mode_gpu():
    cp = cupy_or_raise()
    cp.cuda.Device(_mode["device"]).use()
    _mode["mode"] = GPU


def set_device(device_id):
    device_id = int(device_id)
    if _mode["mode"] == GPU or _cupy["module"] is not None:
        cp = cupy_or_raise()
        count = cp.cuda.runtime.getDeviceCount()
        if not 0 <= device_id < count:
            raise GPUUnavailableError(f"--gpu {device_id}: no such device", expected=f"0..{count - 1}",
                                      found=device_id)
        cp.cuda.Device(device_id).use()
    _mode["device"] = device_id


def mode():
    return _mode["mode"]


def device():
    return _mode["device"]


def is_gpu():
    return _mode["mode"] == GPU


def get_array_module(*arrays):
    """numpy or cupy, as chainer/cupy's get_array_module: cupy if any array lives on a GPU."""
    cp = _cupy["module"]
    if cp is not None:
        for a in arrays:
            if isinstance(a, cp.ndarray):
                return cp
    return np


def to_host(array):
    cp = _cupy["module"]
    if cp is not None and isinstance(array, cp.ndarray):
        return cp.asnumpy(array)
    return array


def to_device(array):
    cp = cupy_or_raise()
    return cp.asarray(array)


def kernel_source_path(file_stem):
    return os.path.join(KERNEL_DIR, f"{file_stem}.cu")


def kernel_source(file_stem):
    """The text of ``layers_cuda/<file_stem>.cu`` with its local ``#include "x"`` files inlined.

    Inlining makes the text CuPy hashes for its on-disk kernel cache cover the shared
    headers too (a header change then recompiles), and keeps NVRTC free of include paths.
    """
    done = set()

    def expand(path):
        lines = []
        with open(path, encoding="utf-8") as f:
            for line in f:
                stripped = line.strip()
                if stripped.startswith('#include "') and stripped.endswith('"'):
                    header = os.path.join(KERNEL_DIR, stripped[len('#include "'):-1])
                    if os.path.exists(header):
                        if header not in done:
                            done.add(header)
                            lines.append(expand(header))
                        continue
                if stripped == "#pragma once":
                    continue
                lines.append(line)
        return "".join(lines)

    return expand(kernel_source_path(file_stem))


def get_kernel(file_stem, name, dtype=None):
    """Compile ``layers_cuda/<file_stem>.cu`` once and return its ``extern "C"`` kernel ``name``.

    ``dtype`` float64 compiles the file with ``-DCAFFEINE_DOUBLE`` (its ``Dtype`` becomes
    double; the kernel names stay the same); anything else gives the float build.
    Compile errors name the source file and kernel.
    """
    double = dtype is not None and np.dtype(dtype) == np.float64
    key = (file_stem, name, _mode["device"], double)
    kernel = _kernel_cache.get(key)
    if kernel is not None:
        return kernel
    cp = cupy_or_raise()
    path = kernel_source_path(file_stem)
    module_key = ("module", file_stem, _mode["device"], double)
    module = _kernel_cache.get(module_key)
    if module is None:
        source = kernel_source(file_stem)
        options = ("-std=c++17", f"-I{KERNEL_DIR}") + (("-DCAFFEINE_DOUBLE",) if double else ())
        try:
            module = cp.RawModule(code=source, options=options)
            module.compile()
        except Exception as exc:
            raise RuntimeError(f"compiling CUDA kernels in {path} failed: {exc}") from exc
        _kernel_cache[module_key] = module
    try:
        kernel = module.get_function(name)
    except Exception as exc:
        raise RuntimeError(f"kernel '{name}' not found in {path}: {exc}") from exc
    _kernel_cache[key] = kernel
    return kernel


def grid_for(n, block=256, max_blocks=65535):
    """(grid, block) for a 1-D grid-stride launch over n elements (Caffe's CAFFE_GET_BLOCKS)."""
    return (max(1, min(max_blocks, (int(n) + block - 1) // block)),), (block,)


# ---- random numbers (Caffe::set_random_seed / caffe_rng) -----------------------------
_rng = {"gen": np.random.default_rng(), "seed": None}


def set_random_seed(seed):
    """Seed every random choice caffeine makes (fillers, dropout, shuffles, crops).

    A negative seed (Caffe's default -1) means: seed from the OS.
    """
    seed = int(seed)
    _rng["seed"] = seed if seed >= 0 else None
    _rng["gen"] = np.random.default_rng(seed if seed >= 0 else None)


def rng():
    """The global numpy Generator (Caffe's caffe_rng)."""
    return _rng["gen"]


def random_seed():
    return _rng["seed"]


def get_rng_state():
    return _rng["gen"].bit_generator.state


def set_rng_state(state):
    _rng["gen"].bit_generator.state = state


# cudaDeviceAttr numbers (stable across CUDA versions) for fields CUDA 13 dropped from
# cudaDeviceProp (clockRate is one: CuPy built for CUDA 13 no longer reports it there).
_DEVICE_ATTRIBUTES = {"clockRate": 13}


def device_properties(device_id):
    """Caffe's DeviceQuery fields for one GPU."""
    cp = cupy_or_raise()
    device_id = int(device_id)
    p = cp.cuda.runtime.getDeviceProperties(device_id)

    def field(key):
        if key in p:
            return p[key]
        try:
            return cp.cuda.runtime.deviceGetAttribute(_DEVICE_ATTRIBUTES[key], device_id)
        except Exception:  # not reported by this CUDA version
            return "n/a"

    name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
    return {
        "Device id": device_id,
        "Name": name,
        "Major revision number": p["major"],
        "Minor revision number": p["minor"],
        "Total global memory": p["totalGlobalMem"],
        "Total shared memory per block": p["sharedMemPerBlock"],
        "Warp size": p["warpSize"],
        "Maximum threads per block": p["maxThreadsPerBlock"],
        "Number of multiprocessors": p["multiProcessorCount"],
        "Clock rate": field("clockRate"),
    }
