"""CUDA streams, events and pinned host memory for the emulated device (emulated_gpu).

They model CUDA's ordering as late as it allows: work without a stream runs at once (the
legacy null stream, after whatever is queued on blocking streams), but a copy issued with
``set(arr, stream=s)`` on a created stream is only queued, and runs when something has to
wait for it (``Event.synchronize``, ``Stream.synchronize``, or ``wait_event`` of an event
recorded after it) — reading the host array at that moment, as a DMA engine would.  So a
kernel that reads the destination without waiting on the copy's event reads stale memory,
and a pinned buffer refilled before its copy's event completed corrupts the batch: both
fail tests, as they would fail (sometimes) on a GPU.

``LOG`` records in order what the program issued: ``("h2d", stream, nbytes, pinned)``,
``("launch", kernel, stream)``, ``("record", event, stream)``, ``("wait", stream, event)``,
``("sync", event)``, ``("pinned_alloc", nbytes)``; stream 0 is the null stream.
``STATS["pinned"]`` counts pinned allocations (emulated_gpu points STATS at FakeCupy.stats).
"""
import collections
import itertools
import weakref

import numpy as np

LOG = collections.deque(maxlen=100000)
STATS = {"pinned": 0}


def log_entry(*entry):
    LOG.append(entry)


class Stream:
    """A CUDA stream: the null stream runs work at once; a created one queues its copies."""

    null = None
    _ptrs = itertools.count(1)
    _blocking = weakref.WeakSet()   # created streams that the legacy null stream waits for

    def __init__(self, non_blocking=False, null=False):
        self.ptr = 0 if null else next(Stream._ptrs)
        self.non_blocking = bool(non_blocking)
        self._pending = collections.deque()
        self._issued = 0      # operations submitted so far
        self._completed = 0   # operations run so far (in order)
        if not null and not non_blocking:
            Stream._blocking.add(self)

    def _submit(self, op):
        self._issued += 1
        if self.ptr == 0:
            for other in list(Stream._blocking):   # legacy null stream semantics
                other.synchronize()
            op()
            self._completed += 1
        else:
            self._pending.append(op)

    def _run_until(self, count):
        while self._completed < count:
            op = self._pending.popleft()
            self._completed += 1
            op()

    def synchronize(self):
        self._run_until(self._issued)

    def record(self, event=None):
        event = event if event is not None else Event()
        event.record(self)
        return event

    def wait_event(self, event):
        """Work submitted to this stream later runs after ``event``'s stream reached it."""
        log_entry("wait", self.ptr, event.id)
        stream, count = event._stream, event._count
        if stream is not None:
            self._submit(lambda: stream._run_until(count))

    @property
    def done(self):
        return self._completed == self._issued

    def use(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Event:
    """A CUDA event: the point of a stream's work at which it was recorded."""

    _ids = itertools.count(1)

    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.id = next(Event._ids)
        self._stream = None
        self._count = 0

    def record(self, stream=None):
        stream = stream if stream is not None else Stream.null
        self._stream, self._count = stream, stream._issued
        log_entry("record", self.id, stream.ptr)

    @property
    def done(self):
        return self._stream is None or self._stream._completed >= self._count

    def synchronize(self):
        log_entry("sync", self.id)
        if self._stream is not None:
            self._stream._run_until(self._count)


Stream.null = Stream(null=True)


_pinned_ranges = {}   # id -> (address, nbytes) of live pinned allocations


def pinned(nbytes):
    """Page-locked host memory (any buffer-protocol object, as CuPy's PinnedMemoryPointer)."""
    memory = np.zeros(max(1, int(nbytes)), dtype=np.uint8)
    key = id(memory)
    _pinned_ranges[key] = (memory.ctypes.data, memory.nbytes)
    weakref.finalize(memory, _pinned_ranges.pop, key, None)
    STATS["pinned"] += 1
    log_entry("pinned_alloc", int(nbytes))
    return memory


def is_pinned(array):
    start = array.__array_interface__["data"][0]
    return any(base <= start and start + array.nbytes <= base + size
               for base, size in list(_pinned_ranges.values()))
