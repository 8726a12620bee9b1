"""PrefetchPipeline(hold=True): a taken batch keeps its place in the prefetch window until
release() (the GPU data path's pinned buffers), ready() does not wait, leftovers() after close."""
import time

import pytest

from caffeine.data.prefetch import PrefetchPipeline


def _settle(made, n):
    deadline = time.time() + 10
    while len(made) < n and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(0.1)            # a worker that would overshoot gets the chance to


def test_held_batches_count_against_the_window():
    made = []
    p = PrefetchPipeline(lambda i: i, lambda i, rng: made.append(i) or i, prefetch=3, workers=3,
                         seed=0, hold=True)
    p.start()
    _settle(made, 3)
    assert sorted(made) == [0, 1, 2]
    assert [p.next(), p.next()] == [0, 1]
    time.sleep(0.2)
    assert sorted(made) == [0, 1, 2]          # 0 and 1 are still held: nothing new is made
    p.release()
    _settle(made, 4)
    assert sorted(made) == [0, 1, 2, 3]       # one released, one more made
    p.release()
    _settle(made, 5)
    assert sorted(made) == [0, 1, 2, 3, 4]
    p.close()


def test_without_hold_taking_a_batch_makes_room():
    made = []
    p = PrefetchPipeline(lambda i: i, lambda i, rng: made.append(i) or i, prefetch=2, workers=2, seed=0)
    p.start()
    _settle(made, 2)
    assert p.next() == 0
    _settle(made, 3)
    assert sorted(made) == [0, 1, 2]
    with pytest.raises(RuntimeError, match="release"):
        p.release()
    p.close()


def test_ready_and_leftovers():
    p = PrefetchPipeline(lambda i: i, lambda i, rng: [i], prefetch=3, workers=2, seed=0, hold=True)
    assert not p.ready()                      # not started: nothing made
    p.start()
    deadline = time.time() + 10
    while not p.ready(2) and time.time() < deadline:
        time.sleep(0.005)
    assert p.ready() and p.ready(1) and p.ready(2) and not p.ready(3)
    assert p.next() == [0]
    assert not p.ready(0) and p.ready()       # taken batches are no longer "ready"
    p.close()
    assert p.leftovers() == [[1], [2]]        # made, never taken: their buffers can be reused
    assert p.leftovers() == []


def test_a_failed_batch_needs_no_release():
    def process(i, rng):
        if i == 1:
            raise ValueError("bad batch 1")
        return i

    p = PrefetchPipeline(lambda i: i, process, prefetch=2, workers=1, seed=0, hold=True)
    assert p.next() == 0
    p.release()
    with pytest.raises(ValueError, match="bad batch 1"):
        p.next()
    assert p.next() == 2                      # the window moved on past the failed batch
    p.release()
    p.close()
