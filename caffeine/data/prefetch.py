"""Background batch pipeline (Caffe's BasePrefetchingDataLayer, with worker threads).

Batch ``i`` is made in two steps:

1. ``read(i)`` — called in batch order, one batch at a time under a lock (a DB cursor
   or a list position is sequential state);
2. ``process(raw, rng_i)`` — decode + transform, run in any worker thread, in
   parallel (OpenCV's decoders and numpy release the GIL).

``rng_i = numpy.random.default_rng([seed, i])`` with ``seed`` drawn from
``caffeine.backend.rng()`` when the pipeline is built, so the random crops and
mirrors of batch ``i`` do not depend on which thread made it or when.  At most
``prefetch`` batches are made ahead of the consumer (Caffe: ``data_param.prefetch``,
3 in Caffe 1.0's PREFETCH_COUNT).  ``next()`` returns batches in order and records
how long the consumer blocked on a batch that was not ready (``wait_seconds``,
``stalls``), so a solver can report the fraction of time it waited for data.

With ``hold=True`` a batch keeps its place in the ``prefetch`` window after ``next()``
returns it, until the consumer calls ``release()`` (Caffe's prefetch_free_ queue: its
PREFETCH_COUNT batches include the one being copied to the device), so a consumer that
still reads a batch's buffer (an asynchronous host->device copy from pinned memory)
never finds more than ``prefetch`` batches alive.  ``ready(i)`` says whether batch ``i``
is made, without waiting; ``leftovers()`` hands back the batches a closed pipeline made
but nobody took (their buffers can be reused).
"""
import os
import threading
import time
import weakref

import numpy as np

from caffeine import backend


def default_workers():
    env = os.environ.get("CAFFEINE_DATA_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(4, os.cpu_count() or 1))


def _weak_callable(f):
    """A weak reference to a bound method (so worker threads don't keep the layer alive)."""
    if hasattr(f, "__self__") and hasattr(f, "__func__"):
        return weakref.WeakMethod(f)
    return lambda: f


class _Shared:
    """State the worker threads see; it holds no reference to the pipeline or its owner."""

    def __init__(self, read, process, prefetch, seed, start_index, hold):
        self.read = _weak_callable(read)
        self.process = _weak_callable(process)
        self.prefetch = prefetch
        self.seed = seed
        self.cond = threading.Condition()
        self.results = {}
        self.next_claim = start_index   # next batch index a worker will read
        self.next_out = start_index     # next batch index the consumer gets
        self.next_read = start_index    # next batch index to be read
        self.next_free = start_index    # oldest batch the consumer has not released
        self.hold = hold                # False: next() releases the batch it returns
        self.stop = False


def _worker(sh):
    while True:
        with sh.cond:
            while not sh.stop and sh.next_claim >= sh.next_free + sh.prefetch:
                sh.cond.wait()
            if sh.stop:
                return
            index = sh.next_claim
            sh.next_claim += 1
            while not sh.stop and sh.next_read != index:   # reads stay in batch order
                sh.cond.wait()
            if sh.stop:
                return
        read, process = sh.read(), sh.process()
        try:
            if read is None or process is None:   # the owner was garbage-collected
                return
            try:
                raw = read(index)
            finally:
                with sh.cond:
                    sh.next_read += 1
                    sh.cond.notify_all()
            result = (True, process(raw, np.random.default_rng([sh.seed, index])))
        except BaseException as exc:  # delivered to the consumer at this batch
            result = (False, exc)
        finally:
            del read, process
        with sh.cond:
            sh.results[index] = result
            sh.cond.notify_all()


def _signal_stop(sh):
    with sh.cond:
        sh.stop = True
        sh.cond.notify_all()


class PrefetchPipeline:
    def __init__(self, read, process, prefetch=3, workers=None, seed=None, start_index=0,
                 name="data", hold=False):
        self.prefetch = max(1, int(prefetch))
        self.num_workers = max(1, int(workers or default_workers()))
        self.seed = int(backend.rng().integers(0, 2**63 - 1)) if seed is None else int(seed)
        self.name = name
        self._sh = _Shared(read, process, self.prefetch, self.seed, int(start_index), bool(hold))
        self._threads = []
        self.wait_seconds = 0.0   # time next() blocked on a batch that was not ready yet
        self.stalls = 0           # how many next() calls found their batch not ready
        self.batches = 0
        weakref.finalize(self, _signal_stop, self._sh)

    def batch_rng(self, index):
        """The Generator batch ``index`` uses (same in every run with the same seed)."""
        return np.random.default_rng([self.seed, int(index)])

    def start(self):
        if self._threads:
            return
        for k in range(self.num_workers):
            t = threading.Thread(target=_worker, args=(self._sh,), daemon=True,
                                 name=f"{self.name}-prefetch-{k}")
            t.start()
            self._threads.append(t)

    def next(self):
        """The next batch, in order; blocks (and counts the wait) until it is ready."""
        self.start()
        sh = self._sh
        t0 = time.perf_counter()
        with sh.cond:
            if sh.next_out not in sh.results:
                self.stalls += 1           # the batch was not ready: the consumer waits
            else:
                t0 = None
            while sh.next_out not in sh.results:
                if sh.stop:
                    raise RuntimeError(f"{self.name}: prefetch pipeline was closed")
                sh.cond.wait(timeout=1.0)
                if sh.next_out not in sh.results and not any(t.is_alive() for t in self._threads):
                    raise RuntimeError(f"{self.name}: prefetch threads stopped")
            ok, value = sh.results.pop(sh.next_out)
            sh.next_out += 1
            if not sh.hold or not ok:     # a failed batch has nothing to release
                sh.next_free += 1
            sh.cond.notify_all()
        if t0 is not None:
            self.wait_seconds += time.perf_counter() - t0
        self.batches += 1
        if not ok:
            raise value
        return value

    def release(self):
        """(hold=True) The oldest batch ``next()`` returned is no longer used: make room."""
        sh = self._sh
        with sh.cond:
            if sh.next_free >= sh.next_out:
                raise RuntimeError(f"{self.name}: release() without a batch taken by next()")
            sh.next_free += 1
            sh.cond.notify_all()

    def ready(self, index=None):
        """Whether batch ``index`` (default: the next one) is made, so next() would not wait."""
        sh = self._sh
        with sh.cond:
            return (sh.next_out if index is None else int(index)) in sh.results

    def leftovers(self):
        """(after close) The batches made but never taken by next(), in batch order."""
        sh = self._sh
        with sh.cond:
            made = sorted(sh.results.items())
            sh.results.clear()
        return [value for _, (ok, value) in made if ok]

    @property
    def position(self):
        """Index of the next batch ``next()`` returns."""
        return self._sh.next_out

    def close(self):
        """Stop the workers and wait for them (a batch being made is finished first)."""
        _signal_stop(self._sh)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=10.0)
        self._threads = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
