"""The emulated device's streams, events and pinned memory (caffeine.testing.emulated_gpu):
an asynchronous copy runs as late as CUDA allows, so missing waits and early buffer reuse
show up as wrong data; the order of what was issued is logged for tests."""
import numpy as np
import pytest

from caffeine import backend
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu


def test_set_checks_like_cupy():
    with emulated_gpu() as cp:
        x = cp.zeros((2, 3), dtype=np.float32)
        with pytest.raises(TypeError, match="float64"):
            x.set(np.zeros((2, 3)))
        with pytest.raises(ValueError, match="Shape mismatch"):
            x.set(np.zeros(6, np.float32))
        with pytest.raises(TypeError, match="numpy.ndarray"):
            x.set(cp.zeros((2, 3), dtype=np.float32))
        with pytest.raises(RuntimeError, match="non-contiguous"):
            x[:, ::2].set(np.zeros((2, 2), np.float32))
        x.set(np.ones((2, 3), np.float32))            # no stream: at once
        assert float(x.sum()) == 6


def test_a_side_stream_copy_runs_when_waited_for():
    with emulated_gpu() as cp:
        side = cp.cuda.Stream(non_blocking=True)
        host = np.frombuffer(cp.cuda.alloc_pinned_memory(16), dtype=np.float32, count=4)
        host[...] = 1
        dev = cp.zeros(4, dtype=np.float32)
        dev.set(host, stream=side)
        copied = side.record()
        assert not copied.done
        assert float(dev.sum()) == 0                 # not waited for: the old contents
        host[...] = 2                                # refilled before the copy completed ...
        cp.cuda.get_current_stream().wait_event(copied)
        assert copied.done
        assert float(dev.sum()) == 8                 # ... so the copy carries the new values
        assert FakeCupy.stats["pinned"] == 1
        kinds = [e[0] for e in FakeCupy.log]
        assert kinds[:4] == ["pinned_alloc", "h2d", "record", "wait"]
        h2d = next(e for e in FakeCupy.log if e[0] == "h2d")
        assert h2d[1] == side.ptr != 0 and h2d[2] == 16 and h2d[3] is True   # pinned source


def test_kernels_do_not_wait_for_side_streams_by_themselves():
    with emulated_gpu() as cp:
        side = cp.cuda.Stream(non_blocking=True)
        dev = cp.zeros(4, dtype=np.float32)
        out = cp.zeros(4, dtype=np.float32)
        dev.set(np.full(4, 3, np.float32), stream=side)
        kernel = backend.get_kernel("neuron", "relu_forward")
        kernel((1,), (4,), (np.int32(4), dev, out, np.float32(0)))
        assert float(out.sum()) == 0                 # the kernel read before the copy ran
        done = side.record()
        done.synchronize()
        kernel((1,), (4,), (np.int32(4), dev, out, np.float32(0)))
        assert float(out.sum()) == 12
        assert ("launch", "relu_forward", 0) in FakeCupy.log
        assert not next(e for e in FakeCupy.log if e[0] == "h2d")[3]   # pageable source


def test_blocking_streams_and_ordering_between_streams():
    with emulated_gpu() as cp:
        blocking = cp.cuda.Stream()
        a = cp.zeros(2, dtype=np.float32)
        a.set(np.ones(2, np.float32), stream=blocking)
        b = cp.zeros(2, dtype=np.float32)
        b.set(np.ones(2, np.float32))                # the legacy null stream waits for `blocking`
        assert float(a.sum()) == 2
        s1, s2 = cp.cuda.Stream(non_blocking=True), cp.cuda.Stream(non_blocking=True)
        a.set(np.full(2, 5, np.float32), stream=s1)
        first = s1.record()
        s2.wait_event(first)
        b.set(np.full(2, 7, np.float32), stream=s2)
        s2.synchronize()                             # runs s1 up to `first` on the way
        assert float(a.sum()) == 10 and float(b.sum()) == 14
        assert s1.done and s2.done
