"""Kernel launching and device scratch buffers shared by the cuda_layers modules."""
import threading

import numpy as np

from caffeine import backend


def cp():
    return backend.cupy_or_raise()


def i32(value):
    return np.int32(value)


def u64(value):
    return np.uint64(value)


def scalar(value, dtype):
    """A kernel's Dtype scalar argument (np.float32 or np.float64)."""
    return np.dtype(dtype).type(value)


def run(file_stem, name, n, *args, dtype=np.float32):
    """Launch ``name`` of ``layers_cuda/<file_stem>.cu`` over ``n`` elements (grid-stride).

    ``args`` follow the kernel's ``n`` parameter; device arrays must be C-contiguous.
    """
    n = int(n)
    if n <= 0:
        return
    kernel = backend.get_kernel(file_stem, name, dtype=dtype)
    grid, block = backend.grid_for(n)
    kernel(grid, block, (np.int32(n),) + args)


def work(layer, name, shape, dtype, zero=False):
    """A device scratch array kept on the layer between calls (reallocated on a new shape)."""
    buffers = layer.__dict__.setdefault("_gpu_work", {})
    shape = tuple(int(s) for s in shape)
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != np.dtype(dtype):
        xp = cp()
        buf = buffers[name] = (xp.zeros if zero else xp.empty)(shape, dtype=dtype)
    return buf


def device_ints(layer, name, values):
    """A small int32 device array of ``values`` (geometry tables), uploaded once per change."""
    values = tuple(int(v) for v in values)
    cache = layer.__dict__.setdefault("_gpu_ints", {})
    entry = cache.get(name)
    if entry is None or entry[0] != values:
        entry = cache[name] = (values, cp().asarray(np.asarray(values, dtype=np.int32)))
    return entry[1]


def seed(layer):
    """A 64-bit seed for a counter-based kernel RNG, drawn from the global seeded generator
    (so runs are reproducible with ``random_seed``)."""
    return np.uint64(layer.rng.integers(0, 2 ** 63))


def data_ro(blob):
    """A blob's device data for reading only (Caffe's gpu_data, not mutable_gpu_data).

    ``Blob.gpu_data`` marks the device copy as the newest, so a host layer that writes the
    blob next (a data layer refilling its top) would first copy it back; reading through
    here leaves host and device in sync instead.
    """
    readonly = getattr(type(blob), "gpu_data_readonly", None)
    if readonly is not None:
        return blob.gpu_data_readonly
    return blob._view(blob._data.device(write=False))  # until Blob has gpu_data_readonly


def diff_ro(blob):
    """A blob's device diff for reading only (see data_ro)."""
    readonly = getattr(type(blob), "gpu_diff_readonly", None)
    if readonly is not None:
        return blob.gpu_diff_readonly
    return blob._view(blob._diff.device(write=False))


# ---- device-side checks, read back together ---------------------------------------------------
_checks = threading.local()


def check_later(flag, on_fail):
    """``flag``: a device boolean scalar, True when the layer's input is bad (an out-of-range
    label or index); ``on_fail()`` raises the CPU layer's error.

    Outside a Net forward the flag is read back at once.  Inside one (:func:`collected_checks`)
    it is kept, and the Net reads every flag of the pass together with the loss in ONE
    readback at its end (each readback is a device synchronization).  The kernels guard bad
    inputs (no out-of-bounds reads), so the pass can finish before the error is raised.
    """
    pending = getattr(_checks, "pending", None)
    if pending is None:
        if bool(flag):
            on_fail()
    else:
        pending.append((flag, on_fail))


class collected_checks:
    """Collect check_later flags for the duration of a ``with`` block (one Net forward)."""

    def __enter__(self):
        self.outer = getattr(_checks, "pending", None)
        self.pending = _checks.pending = []
        return self

    def __exit__(self, *exc):
        _checks.pending = self.outer
        return False

    def resolve(self, loss):
        """Read the flags and the loss back at once; raise the first failed check's error.
        Returns the loss as a Python float."""
        on_device = hasattr(loss, "shape")   # 0.0 when the net has no loss layer
        parts = [loss] if on_device else []
        parts += [flag for flag, _ in self.pending]
        if not parts:
            return float(loss)
        xp = cp()
        stacked = xp.concatenate([xp.asarray(p, dtype=np.float64).reshape(1) for p in parts])
        values = stacked.get()  # the one readback
        if on_device:
            loss, values = values[0], values[1:]
        for (_, on_fail), bad in zip(self.pending, values):
            if bad:
                on_fail()
        return float(loss)
