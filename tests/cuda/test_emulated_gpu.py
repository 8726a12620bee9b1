"""The emulated device (caffeine.testing.emulated_gpu) is strict where CuPy would silently do
the wrong thing, counts transfers, and runs whole nets: LeNet trains on the GPU path exactly
as on the CPU, without per-iteration copies of params or activations."""
import os

import numpy as np
import pytest

from caffeine import backend
from caffeine.blob import Blob
from caffeine.testing import cuda_host
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu
from lenet_lib import lenet_net_param, lenet_solver_param
from parity_lib import device

KINDS = ["emulated", pytest.param("cuda", marks=pytest.mark.gpu)]


def test_kernels_refuse_host_and_non_contiguous_arrays():
    with emulated_gpu() as cp:
        kernel = backend.get_kernel("neuron", "relu_forward")
        x = cp.zeros(10, dtype=np.float32)
        with pytest.raises(TypeError, match="host"):
            kernel((1,), (32,), (np.int32(10), np.zeros(10, np.float32), x, np.float32(0)))
        with pytest.raises(TypeError, match="contiguous"):
            kernel((1,), (32,), (np.int32(5), x[::2], x[:5], np.float32(0)))
        with pytest.raises(TypeError, match="numpy scalar"):
            kernel((1,), (32,), (10, x, x, np.float32(0)))
        with pytest.raises(TypeError, match="host"):
            x + np.ones(10, np.float32)  # CuPy refuses mixing too


def test_out_of_bounds_writes_are_caught():
    source = ('#include "common.cuh"\nextern "C" __global__ void bad(const int n, Dtype* out) {\n'
              '  CUDA_KERNEL_LOOP(i, n) { out[i + 1] = 1; }\n}\n')
    kernel = cuda_host.HostModule(cuda_host.compile_source(source, name="oob")).get_function("bad")
    with pytest.raises(cuda_host.KernelBoundsError, match="after the bounds"):
        kernel((2,), (3,), (np.int32(4), np.zeros(4, np.float32)))


@pytest.mark.parametrize("body", ["out[0] = Dtype(i);",                       # two threads write one element
                                  "if (i > 0) out[i] = out[i - 1] + Dtype(1);"])  # a thread reads another's write
def test_order_dependent_kernels_are_caught_as_races(body):
    source = ('#include "common.cuh"\nextern "C" __global__ void racy(const int n, Dtype* out) {\n'
              f'  CUDA_KERNEL_LOOP(i, n) {{ {body} }}\n}}\n')
    kernel = cuda_host.HostModule(cuda_host.compile_source(source, name="racy")).get_function("racy")
    with pytest.raises(cuda_host.KernelRaceError, match="reverse order"):
        kernel((2,), (3,), (np.int32(6), np.zeros(6, np.float32)))


def test_a_race_free_in_place_kernel_passes():
    source = ('#include "common.cuh"\nextern "C" __global__ void twice(const int n, Dtype* x) {\n'
              '  CUDA_KERNEL_LOOP(i, n) { x[i] = x[i] * Dtype(2); }\n}\n')
    kernel = cuda_host.HostModule(cuda_host.compile_source(source, name="twice")).get_function("twice")
    x = np.arange(7, dtype=np.float32)
    kernel((2,), (3,), (np.int32(7), x))
    np.testing.assert_array_equal(x, np.arange(7) * 2)


@pytest.mark.parametrize("args,message", [
    ((np.int32(4), np.zeros(4, np.float64), np.zeros(4, np.float32), np.float32(0)), "argument 1 must be a float32 array"),
    ((np.int64(4), np.zeros(4, np.float32), np.zeros(4, np.float32), np.float32(0)), "argument 0 must be a int32"),
    ((np.int32(4), np.zeros(4, np.float32), np.zeros(4, np.float32), np.float64(0)), "argument 3 must be a float32"),
    ((np.int32(4), np.zeros(4, np.float32), np.zeros(4, np.float32)), "takes 4 arguments, got 3"),
])
def test_arguments_must_have_the_kernels_parameter_types(args, message):
    """CuPy packs each argument with its own width: an int64 for an int parameter, or a double
    for a float, shifts every later parameter on a GPU, which the host build would not show."""
    with emulated_gpu() as cp:
        kernel = backend.get_kernel("neuron", "relu_forward")
        device_args = tuple(cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        with pytest.raises(cuda_host.KernelSignatureError, match=message):
            kernel((1,), (32,), device_args)


def test_double_builds_take_double_arrays_and_scalars():
    with emulated_gpu() as cp:
        kernel = backend.get_kernel("neuron", "relu_forward", dtype=np.float64)
        x = cp.asarray(np.array([-1.0, 2.0]))
        y = cp.zeros(2, dtype=np.float64)
        kernel((1,), (32,), (np.int32(2), x, y, np.float64(0.5)))
        np.testing.assert_array_equal(y.view(np.ndarray), [-0.5, 2.0])
        with pytest.raises(cuda_host.KernelSignatureError, match="float64"):
            kernel((1,), (32,), (np.int32(2), x, y, np.float32(0.5)))


def test_a_bad_label_in_a_net_forward_raises_after_one_readback():
    """The bad-label flag comes back with the loss at the end of the forward and raises the CPU
    layer's DataError, naming the layer."""
    from caffeine.errors import DataError
    from caffeine.net import Net
    with emulated_gpu():
        backend.set_random_seed(3)
        net = Net(lenet_net_param(4), phase=0)
        net.forward_backward()
        label = net.blobs["label"]
        net.layers[0].forward = lambda bottom, top: label.gpu_data.__setitem__(Ellipsis, 11.0) or 0.0
        before = FakeCupy.stats["d2h"]
        with pytest.raises(DataError, match="loss.*label 11|label 11.*loss"):
            net.forward_loss()
        assert FakeCupy.stats["d2h"] - before >= 1


def test_blob_memory_moves_lazily():
    with emulated_gpu():
        b = Blob(2, 3)
        b.data[...] = 1.5
        before = dict(FakeCupy.stats)
        g = b.gpu_data           # one upload
        g *= 2
        _ = b.gpu_data           # device is current: no copy
        assert FakeCupy.stats["h2d"] - before["h2d"] == 1 and FakeCupy.stats["d2h"] == before["d2h"]
        np.testing.assert_array_equal(b.host_data_readonly, 3.0)  # one download
        assert FakeCupy.stats["d2h"] - before["d2h"] == 1


def test_lenet_iteration_moves_only_the_loss_and_label_check():
    """After the first pass, a forward+backward of LeNet on the device reads back once (the
    loss together with SoftmaxWithLoss's bad-label flag) and uploads only the DummyData batch."""
    from caffeine.net import Net
    with emulated_gpu():
        backend.set_random_seed(3)
        net = Net(lenet_net_param(4), phase=0)
        net.forward_backward()
        before = dict(FakeCupy.stats)
        net.forward_backward()
        d2h = FakeCupy.stats["d2h"] - before["d2h"]
        h2d = FakeCupy.stats["h2d"] - before["h2d"]
    assert d2h == 1, d2h
    assert h2d == 2, h2d  # DummyData fills data and label on the host (its GPU path is the host's)


def test_a_solver_iteration_reads_back_twice():
    """solver.step on the device: the loss with SoftmaxWithLoss's bad-label flag at the end of
    the forward, and the divergence guard's one stacked readback of every param's sum (not one
    per param)."""
    from caffeine.solvers import get_solver
    with emulated_gpu():
        solver = get_solver(lenet_solver_param(4))
        solver.step(2)
        before = dict(FakeCupy.stats)
        solver.step(3)
        d2h = (FakeCupy.stats["d2h"] - before["d2h"]) / 3
        h2d = (FakeCupy.stats["h2d"] - before["h2d"]) / 3
    assert (d2h, h2d) == (2, 2), (d2h, h2d)  # h2d: DummyData's data and label, filled on the host


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rule", ["SGD", "Adam"])
def test_lenet_trains_on_the_gpu_as_on_the_cpu(kind, rule):
    from caffeine.solvers import get_solver

    def train(k):
        with device(k):
            solver = get_solver(lenet_solver_param(8, rule))
            losses = []
            for _ in range(4):
                solver.step(1)
                losses.append(solver.smoothed_loss)
            weights = {name: [b.data.copy() for b in blobs] for name, blobs in solver.net.params.items()}
        return losses, weights

    cpu_losses, cpu_w = train(None)
    gpu_losses, gpu_w = train(kind)
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=2e-5)
    assert cpu_losses[-1] != cpu_losses[0]
    for name in cpu_w:
        for a, b in zip(gpu_w[name], cpu_w[name]):
            # Adam steps ~lr whatever the gradient size, so rounding in tiny gradients shows more
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5 if rule == "Adam" else 2e-6, err_msg=name)


def test_first_nonfinite_reads_back_once():
    from caffeine.cuda_layers.solver_gpu import first_nonfinite
    with emulated_gpu() as cp:
        arrays = [cp.ones(5, dtype=np.float32) for _ in range(4)]
        before = FakeCupy.stats["d2h"]
        assert first_nonfinite(arrays) is None
        assert FakeCupy.stats["d2h"] - before == 1
        arrays[2][3] = np.nan
        big = cp.full(4, 3e38, dtype=np.float32)  # finite, but its float32 sum would overflow
        assert first_nonfinite([big] + arrays) == 3


def test_kernel_compile_errors_name_the_source_file_and_kernel(tmp_path, monkeypatch):
    import shutil
    shutil.copy(os.path.join(backend.KERNEL_DIR, "common.cuh"), tmp_path / "common.cuh")
    (tmp_path / "broken.cu").write_text('#include "common.cuh"\nextern "C" __global__ void k(const int n) {\n'
                                        '  CUDA_KERNEL_LOOP(i, n) { undeclared_name = i; }\n}\n')
    (tmp_path / "fine.cu").write_text('#include "common.cuh"\nextern "C" __global__ void k(const int n) {}\n')
    monkeypatch.setattr(backend, "KERNEL_DIR", str(tmp_path))
    with emulated_gpu():
        with pytest.raises(RuntimeError, match=r"(?s)compiling CUDA kernels in .*broken\.cu failed.*undeclared_name"):
            backend.get_kernel("broken", "k")
        with pytest.raises(RuntimeError, match=r"kernel 'missing' not found in .*fine\.cu"):
            backend.get_kernel("fine", "missing")
