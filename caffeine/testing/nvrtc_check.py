"""Compile layers_cuda sources with NVRTC (the compiler CuPy's RawModule uses) without a GPU.

NVRTC runs on the host: only ``libnvrtc`` is needed (the ``nvidia-cuda-nvrtc`` wheel or a
CUDA toolkit), no driver and no device.  ``compile_kernels(stem, dtype)`` compiles exactly
the text and options ``caffeine.backend.get_kernel`` hands to CuPy, for a given virtual
architecture, and returns the PTX; errors raise with NVRTC's log.
"""
import ctypes
import glob
import os
import site
import sys

from caffeine import backend

_lib = {}


def find_library():
    candidates = []
    if os.environ.get("CAFFEINE_NVRTC"):
        candidates.append(os.environ["CAFFEINE_NVRTC"])
    roots = list(site.getsitepackages()) + [site.getusersitepackages()] + sys.path
    for root in roots:
        candidates += sorted(glob.glob(os.path.join(root, "nvidia", "cu*", "lib", "libnvrtc.so*")))
        candidates += sorted(glob.glob(os.path.join(root, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")))
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home:
            candidates += sorted(glob.glob(os.path.join(home, "lib64", "libnvrtc.so*")))
    for path in candidates:
        if os.path.exists(path) and "builtins" not in os.path.basename(path):
            return path
    return None


def library():
    if "lib" not in _lib:
        path = find_library()
        _lib["lib"] = ctypes.CDLL(path) if path else None
    return _lib["lib"]


def compile_source(source, options, name="kernels.cu"):
    lib = library()
    if lib is None:
        raise RuntimeError("libnvrtc not found (pip install nvidia-cuda-nvrtc, or set CAFFEINE_NVRTC)")
    prog = ctypes.c_void_p()
    status = lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None)
    if status:
        raise RuntimeError(f"nvrtcCreateProgram failed ({status})")
    try:
        opts = [o.encode() for o in options]
        status = lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        text = log.value.decode(errors="replace").strip()
        if status:
            raise RuntimeError(f"NVRTC failed to compile {name}:\n{text}")
        lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
        ptx = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetPTX(prog, ptx)
        return ptx.value.decode(), text
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def compile_kernels(file_stem, double=False, arch="compute_90"):
    """(ptx, log) for layers_cuda/<file_stem>.cu as backend.get_kernel would build it."""
    options = ["-std=c++17", f"-I{backend.KERNEL_DIR}", f"--gpu-architecture={arch}"]
    if double:
        options.append("-DCAFFEINE_DOUBLE")
    return compile_source(backend.kernel_source(file_stem), options, f"{file_stem}.cu")
