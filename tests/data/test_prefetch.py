"""PrefetchPipeline: in-order batches, seeded per-batch RNGs, errors, shutdown, wait stats."""
import gc
import threading
import time

import numpy as np
import pytest

from caffeine.data.prefetch import PrefetchPipeline


def _run(workers, n=12, delays=None):
    read_order = []

    def read(i):
        read_order.append(i)
        return i

    def process(i, rng):
        if delays is not None:
            time.sleep(delays[i % len(delays)])
        return (i, rng.integers(0, 1 << 30, 3).tolist())

    with PrefetchPipeline(read, process, prefetch=3, workers=workers, seed=42) as p:
        out = [p.next() for _ in range(n)]
    return out, read_order


def test_batches_in_order_and_independent_of_threads_and_timing():
    a, reads_a = _run(1)
    b, reads_b = _run(4, delays=[0.01, 0.0, 0.005])        # workers finish out of order
    assert [i for i, _ in a] == list(range(12)) and a == b
    assert reads_a == sorted(reads_a) and reads_b == sorted(reads_b)   # reads stay sequential
    assert len({tuple(r) for _, r in a}) == 12               # each batch its own random stream


def test_errors_arrive_at_their_batch():
    def process(i, rng):
        if i == 2:
            raise ValueError("bad batch 2")
        return i

    with PrefetchPipeline(lambda i: i, process, workers=2, seed=0) as p:
        assert [p.next(), p.next()] == [0, 1]
        with pytest.raises(ValueError, match="bad batch 2"):
            p.next()
        assert p.next() == 3


def test_prefetch_depth_is_bounded():
    made = []

    def until(n):
        deadline = time.time() + 10
        while len(made) < n and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(0.1)                       # give a runaway worker the chance to overshoot

    p = PrefetchPipeline(lambda i: i, lambda i, rng: made.append(i) or i, prefetch=3, workers=2, seed=0)
    p.start()
    until(3)
    assert sorted(made) == [0, 1, 2]          # nothing beyond `prefetch` batches ahead
    assert p.next() == 0
    until(4)
    assert sorted(made) == [0, 1, 2, 3]
    p.close()


def test_wait_accounting():
    slow = PrefetchPipeline(lambda i: i, lambda i, rng: time.sleep(0.03) or i, workers=1, seed=0)
    for _ in range(4):
        slow.next()
    slow.close()
    assert slow.stalls >= 3 and slow.wait_seconds > 0.05
    fast = PrefetchPipeline(lambda i: i, lambda i, rng: i, prefetch=3, workers=1, seed=0)
    fast.next()
    for _ in range(5):
        time.sleep(0.05)                     # the "net" is slower than the data
        fast.next()
    fast.close()
    assert fast.stalls <= 2


def test_close_and_garbage_collection_stop_the_threads():
    before = threading.active_count()
    p = PrefetchPipeline(lambda i: i, lambda i, rng: i, workers=3, seed=0)
    p.next()
    assert threading.active_count() == before + 3
    p.close()
    assert threading.active_count() == before

    class Owner:
        def read(self, i):
            return i

        def process(self, i, rng):
            return i

    owner = Owner()
    q = PrefetchPipeline(owner.read, owner.process, workers=2, seed=0)
    q.next()
    del q, owner
    gc.collect()
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_seed_from_global_rng():
    from caffeine import backend
    backend.set_random_seed(9)
    a = PrefetchPipeline(lambda i: i, lambda i, rng: rng.random(), workers=1)
    backend.set_random_seed(9)
    b = PrefetchPipeline(lambda i: i, lambda i, rng: rng.random(), workers=1)
    assert a.seed == b.seed and a.next() == b.next()
    a.close()
    b.close()
    np.testing.assert_equal(a.batch_rng(5).random(), b.batch_rng(5).random())
