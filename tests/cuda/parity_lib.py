"""Run one layer case on the CPU and on a GPU (real or emulated) and compare."""
import contextlib

import numpy as np

from caffeine import backend
from caffeine.blob import Blob
from caffeine.testing.emulated_gpu import emulated_gpu
from caffeine.testing.layer_helpers import make_layer


@contextlib.contextmanager
def device(kind):
    """kind: None (CPU), "emulated" (the host-built kernels) or "cuda" (a real GPU)."""
    if kind is None:
        backend.set_mode_cpu()
        yield
    elif kind == "emulated":
        with emulated_gpu():
            yield
    else:
        backend.set_mode_gpu()
        try:
            yield
        finally:
            backend.set_mode_cpu()


def run_case(case, kind):
    """Forward and backward of ``case`` on device ``kind``; results as host arrays."""
    with device(kind):
        backend.set_random_seed(7)
        rng = np.random.default_rng(3)
        arrays = case.bottoms(rng) if case.bottoms else []
        bottom = []
        for i, a in enumerate(arrays):
            b = Blob(np.shape(a), dtype=case.dtype, name=f"b{i}")
            b.data[...] = a
            bottom.append(b)
        if case.inplace:
            top = [bottom[0]]
        else:
            top = [Blob(dtype=case.dtype, name=f"t{i}") for i in range(case.n_top)]
        layer = make_layer(case.text, case.phase)
        layer.layer_setup(bottom, top)
        if case.setup:
            case.setup(layer)
        inputs = [b.data.copy() for b in bottom]
        fallbacks = []
        layer._log_host_fallback = lambda: fallbacks.append(layer.type)
        layer.forward(bottom, top)
        out = {"inputs": inputs, "top": [t.data.copy() for t in top],
               "params": [p.data.copy() for p in layer.blobs], "layer_type": layer.type,
               "has_gpu_kernel": bool(layer.has_gpu_kernel), "ran_gpu_path": not fallbacks}
        if case.compare == "host":
            return out
        drng = np.random.default_rng(11)
        for t in top:
            if case.top_diff is not None:
                t.diff[...] = case.top_diff
            else:
                t.diff[...] = drng.standard_normal(t.shape)
        out["top_diff"] = [t.diff.copy() for t in top]
        propagate = case.propagate if case.propagate is not None else [True] * len(bottom)
        if any(propagate) or layer.blobs:
            layer.backward(top, propagate, bottom)
        out["bottom_diff"] = [b.diff.copy() if pd else None for b, pd in zip(bottom, propagate)]
        out["param_diff"] = [p.diff.copy() for p in layer.blobs]
        out["ran_gpu_path"] = not fallbacks
        return out


def tolerances(case):
    return (1e-10, 1e-12) if case.dtype == np.float64 else (3e-4, 2e-5)


def assert_same(case, cpu, gpu):
    rtol, atol = tolerances(case)
    keys = ["top", "params"] + ([] if case.compare == "host" else ["bottom_diff", "param_diff"])
    for key in keys:
        assert len(cpu[key]) == len(gpu[key]), key
        for i, (c, d) in enumerate(zip(cpu[key], gpu[key])):
            if c is None:
                continue
            np.testing.assert_allclose(d, c, rtol=rtol, atol=atol, err_msg=f"{case.name}: {key}[{i}]")


def check_random(case, out):
    """Consistency of a layer that samples: the GPU path draws different random numbers."""
    x, y = out["inputs"][0], out["top"][0]
    dy, dx = out["top_diff"][0], out["bottom_diff"][0]
    if case.type == "Dropout":
        scale = 1 / (1 - 0.3)
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] * scale, rtol=1e-6)
        assert abs(1 - kept.mean() - 0.3) < 0.03, kept.mean()
        np.testing.assert_allclose(dx, np.where(kept, dy * scale, 0), rtol=1e-6)
    elif case.type == "Pooling":
        # every output is one of the inputs of its plane; every diff lands on such an input
        for p in range(x.shape[0] * x.shape[1]):
            xs, ys = x.reshape(-1, *x.shape[2:])[p], y.reshape(-1, *y.shape[2:])[p]
            assert np.isin(ys, xs).all()
            dxs = dx.reshape(-1, *x.shape[2:])[p]
            assert np.isin(xs[dxs != 0], ys).all()
        np.testing.assert_allclose(dx.sum(), dy.sum(), rtol=1e-4)
    else:
        raise AssertionError(f"no random check for {case.type}")
