"""Blob: an N-D array of data and its gradient (diff), as Caffe's Blob.

Memory follows Caffe's SyncedMemory: each of data/diff lives on the host, the
device, or both; a copy happens only when the other side is read after a write.
``blob.data`` / ``blob.diff`` are host numpy views (reading them may copy from the
device); ``blob.gpu_data`` / ``blob.gpu_diff`` are CuPy arrays.  Accessing a side
marks it as the newest (Caffe's mutable_*), so a later read of the other side
copies; ``host_data_readonly`` avoids that for pure reads.
"""
import numpy as np

from caffeine import backend
from caffeine.proto import wire
from caffeine.errors import ShapeError

HOST, DEVICE, SYNCED = "host", "device", "synced"
MAX_BLOB_AXES = 32


class SyncedArray:
    """One flat buffer on host and/or device with lazy copies (Caffe's SyncedMemory)."""

    __slots__ = ("capacity", "dtype", "_host", "_dev", "head")

    def __init__(self, capacity, dtype):
        self.capacity = capacity
        self.dtype = dtype
        self._host = None
        self._dev = None
        self.head = None  # nothing allocated yet

    def host(self, write=True):
        if self._host is None:
            self._host = np.zeros(self.capacity, dtype=self.dtype)
            if self.head is None:
                self.head = HOST
        if self.head == DEVICE:
            self._host[...] = backend.to_host(self._dev)
            self.head = SYNCED
        if write:
            self.head = HOST
        return self._host

    def device(self, write=True):
        cp = backend.cupy_or_raise()
        if self._dev is None:
            self._dev = cp.zeros(self.capacity, dtype=self.dtype)
            if self.head is None:
                self.head = DEVICE
        if self.head == HOST:
            self._dev.set(self._host)
            self.head = SYNCED
        if write:
            self.head = DEVICE
        return self._dev


def _check_shape(shape):
    shape = tuple(int(s) for s in shape)
    if len(shape) > MAX_BLOB_AXES:
        raise ShapeError(f"blob has {len(shape)} axes", expected=f"<= {MAX_BLOB_AXES}", found=len(shape))
    for s in shape:
        if s < 0:
            raise ShapeError("blob dimensions must be non-negative", expected=">= 0", found=shape)
    return shape


class _Count(int):
    """An int that can also be called as Caffe's ``count(start_axis, end_axis)``."""

    def __new__(cls, value, shape):
        obj = super().__new__(cls, value)
        obj._shape = shape
        return obj

    def __call__(self, start=0, end=None):
        if start == 0 and end is None:
            return int(self)
        end = len(self._shape) if end is None else end
        return int(np.prod(self._shape[start:end], dtype=np.int64))


class Blob:
    def __init__(self, *shape, dtype=np.float32, name=None):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        self.name = name
        self.dtype = np.dtype(dtype)
        self._shape = ()
        self._count = 0
        self._data = SyncedArray(0, self.dtype)
        self._diff = SyncedArray(0, self.dtype)
        self.reshape(*shape)

    # ---- shape -----------------------------------------------------------------
    def reshape(self, *shape):
        """Change the shape; memory is reallocated only when it must grow (as Caffe)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = _check_shape(shape)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count > self._data.capacity:
            self._data = SyncedArray(count, self.dtype)
            self._diff = SyncedArray(count, self.dtype)
        self._shape = shape
        self._count = count

    def reshape_like(self, other):
        self.reshape(other.shape)

    @property
    def shape(self):
        return self._shape

    @property
    def num_axes(self):
        return len(self._shape)

    @property
    def count(self):
        """The element count; ``blob.count`` (pycaffe) and ``blob.count(start, end)`` (Caffe) both work."""
        return _Count(self._count, self._shape)

    def canonical_axis_index(self, axis):
        n = self.num_axes
        if not -n <= axis < max(n, 1):
            raise ShapeError(f"axis {axis} out of range for a {n}-D blob of shape {self._shape}",
                             blob=self.name, expected=f"{-n}..{n - 1}", found=axis)
        return axis + n if axis < 0 else axis

    def legacy_shape(self, i):
        """Caffe's LegacyShape: num/channels/height/width of a <=4-D blob (1 if missing)."""
        if i >= self.num_axes or i < -self.num_axes:
            return 1
        return self._shape[i]

    num = property(lambda self: self.legacy_shape(0))
    channels = property(lambda self: self.legacy_shape(1))
    height = property(lambda self: self.legacy_shape(2))
    width = property(lambda self: self.legacy_shape(3))

    def shape_string(self):
        return " ".join(str(s) for s in self._shape) + f" ({self._count})"

    # ---- memory ----------------------------------------------------------------
    def _view(self, array):
        return array[: self._count].reshape(self._shape)

    @property
    def data(self):
        return self._view(self._data.host(write=True))

    @data.setter
    def data(self, value):
        self.data[...] = value

    @property
    def diff(self):
        return self._view(self._diff.host(write=True))

    @diff.setter
    def diff(self, value):
        self.diff[...] = value

    @property
    def host_data_readonly(self):
        return self._view(self._data.host(write=False))

    @property
    def host_diff_readonly(self):
        return self._view(self._diff.host(write=False))

    @property
    def gpu_data_readonly(self):
        """Device data for reading only: does not mark the device copy as the newest."""
        return self._view(self._data.device(write=False))

    @property
    def gpu_diff_readonly(self):
        return self._view(self._diff.device(write=False))

    @property
    def gpu_data(self):
        return self._view(self._data.device(write=True))

    @property
    def gpu_diff(self):
        return self._view(self._diff.device(write=True))

    def data_for(self, gpu):
        return self.gpu_data if gpu else self.data

    def diff_for(self, gpu):
        return self.gpu_diff if gpu else self.diff

    def share_data(self, other):
        """Make this blob's data the same memory as other's (Caffe's ShareData)."""
        if self._count != other._count:
            raise ShapeError("ShareData needs equal counts", expected=other._count, found=self._count)
        self._data = other._data

    def share_diff(self, other):
        if self._count != other._count:
            raise ShapeError("ShareDiff needs equal counts", expected=other._count, found=self._count)
        self._diff = other._diff

    def shares_data_with(self, other):
        return self._data is other._data

    def shares_diff_with(self, other):
        return self._diff is other._diff

    # ---- math helpers used by the solver and debug_info ---------------------------
    def asum_data(self):
        return float(np.abs(self.host_data_readonly).sum(dtype=np.float64))

    def asum_diff(self):
        return float(np.abs(self.host_diff_readonly).sum(dtype=np.float64))

    def sumsq_data(self):
        d = self.host_data_readonly
        return float(np.dot(d.ravel().astype(np.float64), d.ravel().astype(np.float64)))

    def sumsq_diff(self):
        d = self.host_diff_readonly
        return float(np.dot(d.ravel().astype(np.float64), d.ravel().astype(np.float64)))

    # ---- proto -----------------------------------------------------------------
    def to_proto(self, write_diff=False, proto=None):
        """BlobProto with ``shape`` and float ``data`` (``double_data`` for float64 blobs).

        The message is assembled as packed wire bytes and parsed once: protobuf's
        repeated-field ``extend`` is far too slow for CaffeNet-sized weights.
        """
        from caffeine.proto import caffe_pb2
        proto = proto if proto is not None else caffe_pb2.BlobProto()
        double = self.dtype == np.float64
        dtype = np.float64 if double else np.float32
        parts = [wire.length_delimited(7, wire.length_delimited(1, b"".join(wire.varint(d) for d in self._shape)))]
        parts.append(wire.length_delimited(8 if double else 5,
                                       np.ascontiguousarray(self.host_data_readonly, dtype=dtype).tobytes()))
        if write_diff:
            parts.append(wire.length_delimited(9 if double else 6,
                                           np.ascontiguousarray(self.host_diff_readonly, dtype=dtype).tobytes()))
        proto.Clear()
        proto.ParseFromString(b"".join(parts))
        return proto

    def from_proto(self, proto, reshape=True):
        shape = blobproto_shape(proto)
        if reshape:
            self.reshape(shape)
        elif tuple(shape) != self._shape:
            raise ShapeError("blob shape mismatch", blob=self.name, expected=self._shape, found=tuple(shape))
        if len(proto.double_data):
            self.data[...] = np.asarray(proto.double_data, dtype=np.float64).reshape(self._shape)
        elif len(proto.data):
            self.data[...] = np.asarray(proto.data, dtype=np.float32).reshape(self._shape)
        if len(proto.double_diff):
            self.diff[...] = np.asarray(proto.double_diff, dtype=np.float64).reshape(self._shape)
        elif len(proto.diff):
            self.diff[...] = np.asarray(proto.diff, dtype=np.float32).reshape(self._shape)

    def __repr__(self):
        return f"Blob({self.name!r}, shape={self._shape}, dtype={self.dtype})"


def blobproto_shape(proto):
    """Shape of a BlobProto: ``shape.dim`` or the legacy num/channels/height/width."""
    if proto.HasField("shape"):
        return tuple(int(d) for d in proto.shape.dim)
    if any(proto.HasField(f) for f in ("num", "channels", "height", "width")):
        return (proto.num, proto.channels, proto.height, proto.width)
    n = max(len(proto.data), len(proto.double_data))
    return (n,) if n else ()


def blobproto_data_count(proto):
    return max(len(proto.data), len(proto.double_data))
