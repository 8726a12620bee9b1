"""Run caffeine's GPU code path without a GPU: a stand-in for CuPy over numpy.

Inside ``with emulated_gpu():`` caffeine.backend sees this module's ``FakeCupy`` as CuPy:
device arrays are :class:`DeviceArray` (a numpy subclass standing for device memory),
``RawModule`` builds ``layers_cuda/*.cu`` for the host with ``caffeine.testing.cuda_host``
and its kernels run on the CPU, and GPU mode is on.  So ``Layer.forward_gpu``, the
``caffeine.cuda_layers`` glue, the kernels' launch arguments and the Blob's host/device
synchronisation all run for real, and CI checks them on every run.

It is stricter than CuPy where CuPy would silently do the wrong thing or fail late:
- mixing a host (plain numpy) array with a device array in an operation raises, as in CuPy;
- a host array passed to a kernel raises (CuPy would pass a host pointer to the device);
- a non-contiguous array passed to a kernel raises (CuPy passes the raw pointer, so the
  kernel would read the wrong elements);
- every kernel launch checks the guard zones around its arrays (out-of-bounds writes).
Transfers are counted in ``FakeCupy.stats`` (``h2d`` / ``d2h``) so tests can check that an
iteration moves no data it does not have to.  Floating-point warnings are silenced, as
CuPy never issues them.

Streams, events and pinned memory come from :mod:`caffeine.testing.emulated_streams`: a copy
on a created stream runs only when something waits for it, so missing waits and early reuse
of a pinned buffer give wrong data; ``FakeCupy.log`` records in order what was issued.
"""
import contextlib
import types

import numpy as np

from caffeine import backend
from caffeine.testing import cuda_host, emulated_streams
from caffeine.testing.emulated_streams import Event as _Event
from caffeine.testing.emulated_streams import Stream as _Stream
from caffeine.testing.emulated_streams import is_pinned as _is_pinned
from caffeine.testing.emulated_streams import log_entry as _log
from caffeine.testing.emulated_streams import pinned as _pinned


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, DeviceArray) else x


def _wrap(x):
    if isinstance(x, DeviceArray):
        return x
    if isinstance(x, np.ndarray):
        return x.view(DeviceArray)
    if isinstance(x, np.generic):  # CuPy reductions return 0-d device arrays
        return np.asarray(x).view(DeviceArray)
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _check_device(values, what):
    for v in values:
        if isinstance(v, (list, tuple)):
            _check_device(v, what)
        elif type(v) is np.ndarray and v.ndim > 0:
            raise TypeError(f"{what}: a host (numpy) array of shape {v.shape} mixed with device arrays; "
                            "CuPy refuses that (copy it to the device first)")


class DeviceArray(np.ndarray):
    """A numpy array standing for device memory (what ``cupy.ndarray`` is on a GPU)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _check_device(inputs, ufunc.__name__)
        out = kwargs.get("out")
        if out:
            _check_device(out, ufunc.__name__)
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*(_plain(i) for i in inputs), **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        _check_device(args, func.__name__)
        return _wrap(super().__array_function__(func, types_, args, kwargs))

    # device -> host reads
    def get(self, stream=None, out=None):
        FakeCupy.stats["d2h"] += 1
        value = np.array(self.view(np.ndarray), copy=True)
        if out is not None:
            out[...] = value
            return out
        return value

    def set(self, arr, stream=None):
        # CuPy's checks: a host ndarray of the same dtype and shape, into contiguous memory
        if not isinstance(arr, np.ndarray) or isinstance(arr, DeviceArray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if not self.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        FakeCupy.stats["h2d"] += 1
        source = np.ascontiguousarray(arr)   # read when the copy runs, as the DMA engine would
        target = self.view(np.ndarray)
        stream = stream if stream is not None else _Stream.null
        _log("h2d", stream.ptr, source.nbytes, _is_pinned(source))
        stream._submit(lambda: target.__setitem__(Ellipsis, source))

    def __float__(self):
        FakeCupy.stats["d2h"] += 1
        return float(self.view(np.ndarray))

    def __int__(self):
        FakeCupy.stats["d2h"] += 1
        return int(self.view(np.ndarray))

    def __bool__(self):
        FakeCupy.stats["d2h"] += 1
        return bool(self.view(np.ndarray))

    def item(self, *args):
        FakeCupy.stats["d2h"] += 1
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        FakeCupy.stats["d2h"] += 1
        return self.view(np.ndarray).tolist()


class _FakeKernel:
    def __init__(self, kernel):
        self.kernel = kernel

    def __call__(self, grid, block, args, shared_mem=0, **kw):
        for i, a in enumerate(args):
            if type(a) is np.ndarray:
                raise TypeError(f"kernel {self.kernel.name}: argument {i} is a host (numpy) array; "
                                "kernels take device arrays")
        FakeCupy.stats["launches"] += 1
        _log("launch", self.kernel.name, 0)
        _Stream.null._submit(lambda: self.kernel(grid, block, args, shared_mem))


class _FakeRawModule:
    """``cupy.RawModule(code=..., options=...)`` built for the host."""

    def __init__(self, code=None, options=(), **kw):
        defines = [o[2:] for o in options if o.startswith("-D")]
        includes = [o[2:] for o in options if o.startswith("-I")]
        self.module = cuda_host.HostModule(cuda_host.compile_source(code, defines, includes, name="rawmodule"),
                                           code, defines)

    def compile(self, log_stream=None):
        return None

    def get_function(self, name):
        kernel = self.module.get_function(name)
        kernel.max_blocks, kernel.max_threads = FakeCupy.launch_cap
        return _FakeKernel(kernel)


class _Device:
    def __init__(self, device_id=0):
        self.id = int(device_id)

    def use(self):
        return None

    def synchronize(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


_cuda = types.SimpleNamespace(
    runtime=types.SimpleNamespace(
        getDeviceCount=lambda: 1,
        getDeviceProperties=lambda i: {
            "name": b"caffeine emulated GPU (host)", "major": 0, "minor": 0, "totalGlobalMem": 0,
            "sharedMemPerBlock": 0, "warpSize": 32, "maxThreadsPerBlock": 1024,
            "multiProcessorCount": 1, "clockRate": 0},
    ),
    Device=_Device,
    Stream=_Stream,
    Event=_Event,
    get_current_stream=lambda: _Stream.null,
    alloc_pinned_memory=_pinned,
)


class FakeCupy(types.ModuleType):
    """The module object handed to caffeine.backend in place of ``cupy``."""

    stats = {"h2d": 0, "d2h": 0, "launches": 0, "pinned": 0}
    log = emulated_streams.LOG   # ordered record of copies, launches, events
    launch_cap = (2, 3)  # blocks, threads per block actually run per launch

    ndarray = DeviceArray
    RawModule = _FakeRawModule
    cuda = _cuda

    def __init__(self):
        super().__init__("cupy")

    def __getattr__(self, name):
        obj = getattr(np, name)
        if isinstance(obj, (type, types.ModuleType)) or not callable(obj):
            return obj

        def call(*args, **kwargs):
            _check_device(args, name)
            return _wrap(obj(*args, **kwargs))

        return call

    # host <-> device
    @staticmethod
    def asarray(a, dtype=None, order=None):
        if isinstance(a, DeviceArray):
            return a if dtype is None or a.dtype == dtype else a.astype(dtype)
        FakeCupy.stats["h2d"] += 1
        return np.array(a, dtype=dtype, copy=True).view(DeviceArray)

    @staticmethod
    def array(a, dtype=None, copy=True, order="K"):
        if not isinstance(a, DeviceArray):
            FakeCupy.stats["h2d"] += 1
        return np.array(_plain(a), dtype=dtype, copy=True).view(DeviceArray)

    @staticmethod
    def asnumpy(a, stream=None, out=None):
        if isinstance(a, DeviceArray):
            return a.get(out=out)
        return np.asarray(a)

    @staticmethod
    def get_array_module(*arrays):
        return FakeCupy.current


emulated_streams.STATS = FakeCupy.stats


@contextlib.contextmanager
def emulated_gpu(launch_cap=(2, 3)):
    """Switch caffeine to GPU mode on the emulated device for the duration of the block."""
    saved_cupy = dict(backend._cupy)
    saved_mode = dict(backend._mode)
    saved_cache = dict(backend._kernel_cache)
    fake = FakeCupy()
    FakeCupy.current = fake
    FakeCupy.launch_cap = launch_cap
    FakeCupy.stats.update(h2d=0, d2h=0, launches=0, pinned=0)
    FakeCupy.log.clear()
    backend._cupy.update(module=fake, error=None, tried=True)
    backend._kernel_cache.clear()
    try:
        backend.set_mode_gpu()
        with np.errstate(all="ignore"):
            yield fake
    finally:
        backend._cupy.clear()
        backend._cupy.update(saved_cupy)
        backend._mode.clear()
        backend._mode.update(saved_mode)
        backend._kernel_cache.clear()
        backend._kernel_cache.update(saved_cache)
