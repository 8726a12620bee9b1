"""Helpers for the data-layer GPU tests: run a data layer for k batches on a device kind."""
import time

import numpy as np
import pytest

from caffeine import backend
from caffeine.proto import caffe_pb2
from caffeine.testing.emulated_gpu import FakeCupy
from caffeine.testing.layer_helpers import empty_tops, make_layer
from parity_lib import device

KINDS = ["emulated", pytest.param("cuda", marks=pytest.mark.gpu)]


def wait_made(layer, index, timeout=10.0):
    """Block until the prefetch workers have made batch ``index`` (so forward finds it ready)."""
    deadline = time.time() + timeout
    while not layer.pipeline.ready(index):
        if time.time() > deadline:
            raise AssertionError(f"batch {index} was not made within {timeout}s")
        time.sleep(0.002)


def batches(kind, text, k, phase=caffe_pb2.TRAIN, dtype=np.float32, seek=None, check_gpu_path=False,
            counts=None, n_top=None, setup=None):
    """The tops of ``k`` forwards of the layer ``text`` (seed 1) on device ``kind`` (None: CPU).

    ``counts`` (a dict) receives ``h2d_per_batch`` after the first batch (emulated only) and
    ``host_fallback`` (whether the layer logged that it runs on the host);
    ``check_gpu_path`` asserts that no host fallback ran and (emulated) that kernels did.
    """
    n_top = n_top if n_top is not None else text.count("top:")
    with device(kind):
        backend.set_random_seed(1)
        layer = make_layer(text, phase)
        top = empty_tops(n_top, dtype=dtype)
        layer.layer_setup([], top)
        if setup is not None:
            setup(layer)
        fallbacks = []
        layer._log_host_fallback = lambda: fallbacks.append(layer.type)
        if seek is not None:
            layer.seek(seek)
        out, h2d, launches = [], [], FakeCupy.stats["launches"]
        for _ in range(k):
            layer.forward([], top)
            h2d.append(FakeCupy.stats["h2d"])
            out.append([t.host_data_readonly.copy() for t in top])
        launches = FakeCupy.stats["launches"] - launches
        if hasattr(layer, "close"):
            layer.close()
    if counts is not None:
        counts["host_fallback"] = bool(fallbacks)
        if kind == "emulated":
            counts["h2d_per_batch"] = (h2d[-1] - h2d[0]) / (k - 1)
    if check_gpu_path and kind is not None:
        assert not fallbacks, f"{fallbacks[0]} ran its host fallback"
        assert kind != "emulated" or launches >= k
    return out
