"""Run layers_cuda/*.cu kernels on the CPU: g++ + host_shim.h + ctypes.

``build(file_stem, dtype)`` compiles ``layers_cuda/<file_stem>.cu`` as C++ with
``host_shim.h`` force-included into a shared library (cached in a temp folder by a hash
of the sources and flags) and returns a :class:`HostModule`; ``module.get_function(name)``
returns a :class:`HostKernel` called like CuPy's ``RawKernel``::

    kernel((grid,), (block,), (n, x, y, np.float32(0.5)))

Arguments must be typed as they will be on the device: numpy arrays (C-contiguous; passed
as pointers), ``np.int32``/``np.int64``/``np.uint64`` and ``np.float32``/``np.float64``
scalars.  A Python int or float is refused, because CuPy would pass it with a width the
kernel may not expect.

Each array argument is copied into a buffer with guard zones on both sides (NaN for
floating types, a fixed byte pattern otherwise); after the launch the guards are checked,
so a kernel that writes out of bounds fails the test, and one that reads out of bounds
most likely propagates a NaN.  Every (block, thread) of the launch runs in turn, so the
grid-stride loops are exercised with the launch configuration the test picks.

Every launch runs twice, threads in forward and then in reverse order, from the same
inputs; different results mean that a thread reads what another writes, or two threads
write one element (a race on a GPU, whose threads run in no fixed order), and fail with
:class:`KernelRaceError`.  Modules built from a ``layers_cuda`` file (or a RawModule's
text) check every launch's arguments against the kernels' declared parameter types
(:class:`KernelSignatureError`), as a GPU would need them packed.
"""
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import threading

import numpy as np

from caffeine.backend import KERNEL_DIR

GUARD = 64  # elements of guard zone on each side of every array argument
_lock = threading.Lock()
_modules = {}


class KernelBoundsError(AssertionError):
    """A kernel wrote outside the array it was given."""


class KernelSignatureError(TypeError):
    """A launch passes an argument whose type differs from the kernel's parameter: CuPy would
    pack it with the argument's width, so the kernel would read garbage (on a GPU only)."""


class KernelRaceError(AssertionError):
    """A kernel's result depends on the order its threads run: a data race on a real GPU."""


def compiler():
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def available():
    return compiler() is not None


def _sources_digest(source, flags):
    h = hashlib.sha256()
    h.update(source.encode())
    h.update(" ".join(flags).encode())
    for name in sorted(os.listdir(KERNEL_DIR)):
        if name.endswith((".h", ".cuh")):
            with open(os.path.join(KERNEL_DIR, name), "rb") as f:
                h.update(name.encode())
                h.update(f.read())
    return h.hexdigest()[:20]


def compile_source(source, defines=(), include_dirs=(), name="kernels"):
    """Compile CUDA source text for the host; return the path of the shared library."""
    cxx = compiler()
    if cxx is None:
        raise RuntimeError("no C++ compiler (g++) found to build CUDA kernels for the host")
    flags = ["-std=c++17", "-O1", "-fPIC", "-shared", "-Wall", "-Wno-unused-function",
             "-fno-fast-math", "-ffp-contract=off"]
    flags += [f"-D{d}" for d in defines]
    dirs = [KERNEL_DIR] + [d for d in include_dirs if os.path.abspath(d) != os.path.abspath(KERNEL_DIR)]
    flags += [f"-I{d}" for d in dirs]
    digest = _sources_digest(source, flags)
    cache = os.path.join(tempfile.gettempdir(), f"caffeine_cuda_host_{os.getuid()}")
    os.makedirs(cache, exist_ok=True)
    lib = os.path.join(cache, f"kernels_{digest}.so")  # same text and flags: one build
    if os.path.exists(lib):
        return lib
    src = os.path.join(cache, f"{name}_{digest}.cu")  # named for the compiler's messages
    with open(src, "w", encoding="utf-8") as f:
        f.write(source)
    tmp = lib + f".{os.getpid()}.tmp"
    cmd = [cxx, "-x", "c++", "-include", os.path.join(KERNEL_DIR, "host_shim.h")] + flags + [src, "-o", tmp]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"host build of CUDA kernels '{name}' failed:\n{' '.join(cmd)}\n{proc.stderr}")
    os.replace(tmp, lib)
    return lib


def build(file_stem, dtype=np.float32):
    """The HostModule of ``layers_cuda/<file_stem>.cu`` for ``dtype`` (float32 or float64)."""
    dtype = np.dtype(dtype)
    key = (file_stem, dtype)
    with _lock:
        module = _modules.get(key)
        if module is None:
            from caffeine.backend import kernel_source
            source = kernel_source(file_stem)  # the text get_kernel hands to CuPy (headers inlined)
            defines = ("CAFFEINE_DOUBLE",) if dtype == np.float64 else ()
            module = _modules[key] = HostModule(compile_source(source, defines, name=file_stem), source,
                                                defines)
    return module


_C_TYPES = {"float": np.float32, "double": np.float64, "int": np.int32, "unsigned int": np.uint32,
            "long long": np.int64, "unsigned long long": np.uint64, "unsigned char": np.uint8,
            "signed char": np.int8, "char": np.int8}
_KERNEL_DECL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(([^)]*)\)', re.S)


def kernel_signatures(source, defines=()):
    """{kernel name: [(numpy dtype, is_pointer), ...]} from the ``extern "C" __global__``
    declarations of CUDA source text (``Dtype`` as the CAFFEINE_DOUBLE define makes it)."""
    dtype_is = "double" if "CAFFEINE_DOUBLE" in defines else "float"
    signatures = {}
    for name, params in _KERNEL_DECL.findall(source):
        types = []
        for param in (p.strip() for p in params.split(",") if p.strip()):
            pointer = "*" in param
            words = [w for w in re.split(r"[\s*]+", param.replace("__restrict__", ""))
                     if w and w != "const"][:-1]  # drop the parameter name
            ctype = " ".join(words).replace("Dtype", dtype_is)
            if ctype not in _C_TYPES:
                raise KernelSignatureError(f"kernel {name}: parameter type '{ctype}' unknown to the host shim")
            types.append((np.dtype(_C_TYPES[ctype]), pointer))
        signatures[name] = types
    return signatures


class HostModule:
    def __init__(self, path, source=None, defines=()):
        self.path = path
        self.signatures = kernel_signatures(source, defines) if source is not None else {}
        self.lib = ctypes.CDLL(path)
        self.lib.shim_set_thread.argtypes = [ctypes.c_uint] * 4
        self.lib.shim_set_thread.restype = None

    def get_function(self, name):
        try:
            fn = getattr(self.lib, name)
        except AttributeError:
            raise AttributeError(f"kernel '{name}' not found in {self.path}") from None
        fn.restype = None
        return HostKernel(self, name, fn)


_SCALARS = {
    np.dtype(np.int32): ctypes.c_int32,
    np.dtype(np.int64): ctypes.c_int64,
    np.dtype(np.uint32): ctypes.c_uint32,
    np.dtype(np.uint64): ctypes.c_uint64,
    np.dtype(np.float32): ctypes.c_float,
    np.dtype(np.float64): ctypes.c_double,
}


def _guard_value(dtype):
    if dtype.kind == "f":
        return np.array(np.nan, dtype=dtype)
    return np.frombuffer(bytes([0xA5]) * dtype.itemsize, dtype=dtype)[0]


class _Guarded:
    """An array argument copied between guard zones for the duration of one launch."""

    def __init__(self, array, index, kernel):
        if not array.flags.c_contiguous:
            raise TypeError(f"kernel {kernel}: argument {index} is not C-contiguous (a device kernel "
                            "would read it as if it were)")
        self.array = array
        flat = array.reshape(-1).view(np.ndarray)
        self.buf = np.empty(flat.size + 2 * GUARD, dtype=array.dtype)
        self.buf[:GUARD] = _guard_value(array.dtype)
        self.buf[GUARD + flat.size:] = _guard_value(array.dtype)
        self.buf[GUARD:GUARD + flat.size] = flat
        self.guard = self.buf[:GUARD].copy()
        self.pointer = ctypes.c_void_p(self.buf.ctypes.data + GUARD * array.dtype.itemsize)

    def finish(self, index, kernel):
        n = self.array.size
        for zone, where in ((self.buf[:GUARD], "before"), (self.buf[GUARD + n:], "after")):
            if zone.tobytes() != self.guard.tobytes():
                raise KernelBoundsError(f"kernel {kernel} wrote {where} the bounds of argument {index} "
                                        f"(shape {self.array.shape}, dtype {self.array.dtype})")
        if not self.array.flags.writeable:
            if self.buf[GUARD:GUARD + n].tobytes() != self.array.tobytes():
                raise KernelBoundsError(f"kernel {kernel} wrote into read-only argument {index}")
            return
        self.array.reshape(-1).view(np.ndarray)[...] = self.buf[GUARD:GUARD + n]


class HostKernel:
    """One kernel of a HostModule, called like ``cupy.RawKernel``."""

    # Cap on the emulated launch: every (block, thread) is one ctypes call.
    max_blocks = None
    max_threads = None

    def __init__(self, module, name, fn):
        self.module = module
        self.name = name
        self.fn = fn

    def _check_signature(self, args):
        params = self.module.signatures.get(self.name)
        if params is None:
            return
        if len(args) != len(params):
            raise KernelSignatureError(f"kernel {self.name} takes {len(params)} arguments, got {len(args)}")
        for i, (a, (dtype, pointer)) in enumerate(zip(args, params)):
            if pointer:
                if a is not None and (not isinstance(a, np.ndarray) or a.dtype != dtype):
                    found = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
                    raise KernelSignatureError(f"kernel {self.name}: argument {i} must be a {dtype} array, "
                                               f"got {found}")
            elif isinstance(a, np.ndarray) or not isinstance(a, np.generic) or a.dtype != dtype:
                found = a.dtype if isinstance(a, (np.ndarray, np.generic)) else type(a).__name__
                raise KernelSignatureError(f"kernel {self.name}: argument {i} must be a {dtype} numpy scalar (np.{dtype}), "
                                           f"got {found}")

    def _convert(self, args):
        self._check_signature(args)
        converted, guarded = [], []
        for i, a in enumerate(args):
            if a is None:
                converted.append(ctypes.c_void_p(None))
            elif isinstance(a, np.ndarray):  # a device array: passed by pointer (0-d too)
                g = _Guarded(a, i, self.name)
                guarded.append((i, g))
                converted.append(g.pointer)
            elif isinstance(a, np.generic) and a.dtype in _SCALARS:
                converted.append(_SCALARS[a.dtype](a.item()))
            else:
                raise TypeError(f"kernel {self.name}: argument {i} is {type(a).__name__} ({a!r}); pass a "
                                "numpy scalar of the kernel's parameter type (np.int32, np.float32, ...)")
        return converted, guarded

    def __call__(self, grid, block, args, shared_mem=0):
        if shared_mem:
            raise ValueError(f"kernel {self.name}: the host shim has no shared memory")
        gx = int(grid[0] if isinstance(grid, tuple) else grid)
        bx = int(block[0] if isinstance(block, tuple) else block)
        if self.max_blocks:
            gx = min(gx, self.max_blocks)
        if self.max_threads:
            bx = min(bx, self.max_threads)
        converted, guarded = self._convert(args)
        initial = [g.buf.copy() for _, g in guarded]
        threads = [(b, t) for b in range(gx) for t in range(bx)]
        self._run(gx, bx, threads, converted)
        if len(threads) > 1:
            forward = [g.buf.copy() for _, g in guarded]
            for (_, g), start in zip(guarded, initial):
                g.buf[...] = start
            self._run(gx, bx, threads[::-1], converted)
            for (i, g), first in zip(guarded, forward):
                if g.buf.tobytes() != first.tobytes():
                    raise KernelRaceError(
                        f"kernel {self.name}: argument {i} differs when the threads run in reverse order "
                        "(a thread reads what another writes, or two write one element: a data race on a GPU)")
        for i, g in guarded:
            g.finish(i, self.name)

    def _run(self, gx, bx, threads, converted):
        set_thread = self.module.lib.shim_set_thread
        for b, t in threads:
            set_thread(gx, bx, b, t)
            self.fn(*converted)


def launch(file_stem, name, n, args, dtype=np.float32, grid=3, block=4):
    """Test helper: run a kernel for ``n`` elements with a small grid-stride launch."""
    kernel = build(file_stem, dtype).get_function(name)
    kernel((grid,), (block,), (np.int32(n),) + tuple(args))
