"""The GPU path of the prefetching data layers (Caffe's BasePrefetchingDataLayer::Forward_gpu,
with the DataTransformer on the device).

In GPU mode the prefetch workers do not transform: each packs its batch, untransformed,
into one pinned host buffer taken from a :class:`PinnedRing` of ``prefetch`` buffers
(Caffe's PREFETCH_COUNT, reused batch after batch)::

    int32 choices (rows × N) | float32 labels (N, when there is a label top) | uint8 pixels

``choices`` are the transformer's random draws for the batch (h_off, w_off, mirror), made
by the same generator calls as the host transform, so both devices give the same batches;
WindowData sends the rectangle each warped window covers instead.  :class:`DeviceFeed`
then, in forward k:

1. takes batch k (staged already, or from the pipeline now) — its copy was issued on a
   side stream (non-blocking) into device slot k % 2, followed by an event;
2. makes the compute stream wait on that event and launches the transform kernel, which
   writes top[0]; the labels go device->device into top[1]; an event marks the slot read;
3. once batch k's copy is complete, gives its pinned buffer back to the ring and its place
   back to the pipeline (``hold`` mode: ``prefetch`` batches alive, the copied one included);
4. if batch k+1 is made, takes it and issues its copy on the side stream into slot
   (k+1) % 2 (after that slot's last reader): it overlaps the rest of iteration k.

One host->device copy per batch.  Batches that are not uint8 (float_data Datums) arrive
transformed on the host, as lists of arrays, and take one copy per top.
"""
import threading

import numpy as np

from caffeine.cuda_layers.launch import cp


class PackedBatch:
    """One batch in a pinned buffer: ``choices`` (rows, N) int32, ``labels``, ``pixels``."""

    def __init__(self, memory, pixel_shape, rows, has_labels, out_shape):
        n = pixel_shape[0]
        self.memory = memory
        self.pixel_shape = tuple(int(s) for s in pixel_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.rows = rows
        self.has_labels = has_labels
        self.label_at = 4 * rows * n                       # every part stays 4-byte aligned
        self.pixel_at = self.label_at + (4 * n if has_labels else 0)
        self.nbytes = self.pixel_at + int(np.prod(self.pixel_shape))

    @staticmethod
    def nbytes_for(pixel_shape, rows, has_labels):
        n = pixel_shape[0]
        return 4 * rows * n + (4 * n if has_labels else 0) + int(np.prod(pixel_shape))

    def views(self, buffer):
        """(choices, labels or None, pixels) as views of ``buffer`` (host or device bytes)."""
        n = self.pixel_shape[0]
        choices = buffer[:self.label_at].view(np.int32).reshape(self.rows, n)
        labels = buffer[self.label_at:self.pixel_at].view(np.float32) if self.has_labels else None
        pixels = buffer[self.pixel_at:self.nbytes].reshape(self.pixel_shape)
        return choices, labels, pixels


def pack(ring, pixels, choices, labels, out_shape):
    """Copy a uint8 batch, its int choices and labels (or None) into a pinned buffer."""
    choices = np.asarray(choices)
    nbytes = PackedBatch.nbytes_for(pixels.shape, choices.shape[0], labels is not None)
    batch = PackedBatch(ring.acquire(nbytes), pixels.shape, choices.shape[0], labels is not None,
                        out_shape)
    c, lab, pix = batch.views(batch.memory)
    c[...] = choices
    if lab is not None:
        lab[...] = labels
    pix[...] = pixels
    return batch


class PinnedRing:
    """``count`` pinned host buffers, reused; a buffer too small for a batch is replaced."""

    def __init__(self, xp, count):
        self.xp = xp            # captured here: workers call acquire from their own threads
        self.count = count
        self.free = []
        self.allocations = 0
        self._lock = threading.Lock()

    def _allocate(self, nbytes):
        self.allocations += 1
        return np.frombuffer(self.xp.cuda.alloc_pinned_memory(nbytes), dtype=np.uint8, count=nbytes)

    def acquire(self, nbytes):
        with self._lock:
            for i, buf in enumerate(self.free):
                if buf.size >= nbytes:
                    return self.free.pop(i)
            if self.free:
                self.free.pop()   # too small for this batch: replace it
        return self._allocate(nbytes)

    def release(self, buf):
        with self._lock:
            self.free.append(buf)


class _Slot:
    """A device buffer a batch is copied into, and the event after its last reader."""

    def __init__(self):
        self.buffer = None
        self.read = None

    def ensure(self, xp, nbytes):
        if self.buffer is None or self.buffer.size < nbytes:
            self.buffer = xp.empty(nbytes, dtype=np.uint8)
        return self.buffer


class _Staged:
    """A batch taken from the pipeline: a PackedBatch with its copy issued, a host batch
    (list of arrays), or the error its worker raised (delivered at its own forward)."""

    def __init__(self, batch=None, slot=None, copied=None, error=None):
        self.batch, self.slot, self.copied, self.error = batch, slot, copied, error


class DeviceFeed:
    """Per-layer device state of the data path: pinned ring, side stream, two device slots."""

    def __init__(self, prefetch):
        self.xp = cp()
        self.ring = PinnedRing(self.xp, prefetch)
        self.stream = self.xp.cuda.Stream(non_blocking=True)
        self.slots = [_Slot(), _Slot()]
        self.turn = 0
        self.staged = None   # batch k+1, taken early, its copy in flight

    def _stage(self, batch):
        if not isinstance(batch, PackedBatch):
            return _Staged(batch)
        slot = self.slots[self.turn]
        self.turn ^= 1
        if slot.read is not None:
            self.stream.wait_event(slot.read)   # the previous batch in this slot was read
        device = slot.ensure(self.xp, batch.nbytes)[:batch.nbytes]
        device.set(batch.memory[:batch.nbytes], stream=self.stream)
        return _Staged(batch, slot, self.stream.record())

    def _take(self, pipeline):
        try:
            return self._stage(pipeline.next())
        except Exception as exc:  # the batch's own error, raised at the forward it belongs to
            return _Staged(error=exc)

    def forward(self, pipeline, top, launch):
        """Fill ``top`` with the next batch; ``launch(pixels, choices, out)`` runs the kernel."""
        staged = self.staged if self.staged is not None else self._take(pipeline)
        self.staged = None
        if staged.error is not None:
            raise staged.error
        batch = staged.batch
        if isinstance(batch, PackedBatch):
            self._transform(staged, top, launch)
            staged.copied.synchronize()   # normally long done: it was issued an iteration ago
            self.ring.release(batch.memory)
        else:
            for t, arr in zip(top, batch):
                if t.shape != arr.shape:
                    t.reshape(arr.shape)
                t.gpu_data.set(np.ascontiguousarray(arr, dtype=t.dtype))
        pipeline.release()
        if pipeline.ready():
            self.staged = self._take(pipeline)

    def _transform(self, staged, top, launch):
        batch = staged.batch
        compute = self.xp.cuda.get_current_stream()
        compute.wait_event(staged.copied)
        choices, labels, pixels = batch.views(staged.slot.buffer)
        if top[0].shape != batch.out_shape:
            top[0].reshape(batch.out_shape)
        launch(pixels, choices, top[0].gpu_data)
        if labels is not None and len(top) > 1:
            if top[1].shape != labels.shape:
                top[1].reshape(labels.shape)
            top[1].gpu_data[...] = labels     # device -> device, on the compute stream
        staged.slot.read = compute.record()

    @property
    def ahead(self):
        """How many batches were taken from the pipeline but not yet served (0 or 1)."""
        return 0 if self.staged is None else 1

    def reclaim(self, batches):
        """Give back the pinned buffers of batches that will not be served (seek, close)."""
        if self.staged is not None:
            batches = [self.staged.batch] + list(batches)
            if self.staged.copied is not None:
                self.staged.copied.synchronize()
            self.staged = None
        for batch in batches:
            if isinstance(batch, PackedBatch):
                self.ring.release(batch.memory)
