"""The Accuracy and ArgMax kernels (layers_cuda/accuracy.cu, argmax.cu), built for the host
(host_shim.h + g++ + ctypes) and chained as caffeine/cuda_layers/{accuracy,argmax}_gpu.py chain
them, against the CPU layers (Caffe 1.0 semantics) and hand-worked tie cases; plus the GPU path
on the emulated device: one flag read back, no backward, the CPU's DataError for a bad label."""
import numpy as np
import pytest

from caffeine.errors import ConfigError, DataError
from caffeine.testing import cuda_host
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32


def accuracy_kernels(scores, labels, channels, inner, top_k, ignore=None, per_class=True, chunk=256,
                     grid=3, block=4):
    """(accuracy, per-class or None) from the three accuracy.cu kernels; scores in memory order."""
    dt = scores.dtype
    samples = labels.size
    scores = np.ascontiguousarray(scores).reshape(-1)
    labels = np.ascontiguousarray(labels, dtype=dt).reshape(-1)
    ign = (I(1), I(ignore)) if ignore is not None else (I(0), I(0))
    state = np.full(samples, 99, dtype=np.int32)
    launch = dict(dtype=dt, grid=grid, block=block)
    cuda_host.launch("accuracy", "accuracy_sample", samples,
                     (scores, labels, I(channels), I(inner), I(top_k), *ign, state), **launch)
    assert np.isin(state, [-1, 0, 1, 2]).all()  # every sample got a state
    classes = channels if per_class else 0
    chunks = max(1, -(-samples // chunk))
    partial = np.full((classes + 1, chunks, 3), -7, dtype=np.int32)
    cuda_host.launch("accuracy", "accuracy_count", (classes + 1) * chunks,
                     (state, labels, I(samples), I(chunk), I(classes), partial), **launch)
    acc = np.full((), -5, dtype=dt)
    pc = np.full(max(classes, 1), -5, dtype=dt)
    cuda_host.launch("accuracy", "accuracy_finish", classes + 1, (partial, I(chunks), I(classes), acc, pc), **launch)
    if not per_class:
        assert pc[0] == -5  # the dummy per-class buffer is not written
    return acc, (pc if per_class else None)


def cpu_accuracy(scores, labels, top_k, axis=1, ignore=None, dtype=np.float64):
    extra = f" ignore_label: {ignore}" if ignore is not None else ""
    text = f'type: "Accuracy" accuracy_param {{ top_k: {top_k} axis: {axis}{extra} }}'
    layer, _, top = run_layer(text, [scores, labels], n_top=2, dtype=dtype)
    return layer, top[0].data.copy(), top[1].data.copy()


ACC_SHAPES = [((7, 4), 1), ((3, 5, 2, 3), 1), ((4, 3, 6), -1), ((2, 3, 5), 2), ((5, 3, 2), 0)]


@pytest.mark.parametrize("shape,axis", ACC_SHAPES, ids=str)
@pytest.mark.parametrize("top_k", [1, 2, 3])
@pytest.mark.parametrize("chunk", [1, 5, 256])
def test_accuracy_kernels_match_the_cpu_layer_with_ties_and_ignore(shape, axis, top_k, chunk):
    rng = np.random.default_rng(top_k * 10 + chunk)
    scores = rng.integers(0, 3, shape).astype(np.float64)  # small integers: many ties with the truth
    label_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    channels = shape[axis]
    labels = rng.integers(0, channels, label_shape).astype(np.float64)
    labels.reshape(-1)[::4] = 1  # ignore_label 1 lies inside [0, channels): ignored all the same
    layer, acc_cpu, pc_cpu = cpu_accuracy(scores, labels, top_k, axis, ignore=1)
    outer, channels, inner = layer.dims
    acc, pc = accuracy_kernels(scores, labels, channels, inner, top_k, ignore=1, chunk=chunk)
    np.testing.assert_array_equal(acc, acc_cpu)  # both divide exact counts in double
    np.testing.assert_array_equal(pc, pc_cpu)
    assert pc[1] == 0  # every label 1 was ignored
    acc_no_pc, none = accuracy_kernels(scores, labels, channels, inner, top_k, ignore=1, per_class=False,
                                       chunk=chunk)
    assert none is None and acc_no_pc == acc_cpu


@pytest.mark.parametrize("top_k,labels,expected", [
    (1, [0, 1, 0], 1 / 3),  # rows 0, 1: the true class ties with another -> wrong at top 1
    (2, [0, 1, 1], 2 / 3),  # row 2: label 1 ties with class 2 and class 0 is higher -> wrong
])
def test_accuracy_kernels_tie_rule_by_hand(top_k, labels, expected):
    scores = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [2.0, 1.0, 1.0]])
    acc, _ = accuracy_kernels(scores, np.array(labels, dtype=np.float64), 3, 1, top_k)
    assert acc == pytest.approx(expected, rel=1e-15)


def test_accuracy_kernels_truncate_labels_and_handle_nan_scores():
    scores = np.array([[0.5, np.nan, 0.1], [np.nan, 0.2, 0.3], [0.9, 0.8, 0.1], [0.1, 0.2, 0.9]])
    labels = np.array([0.0, 0.0, 1.9, -0.5])  # read as 0, 0, 1, 0 (truncation toward zero)
    for top_k in (1, 2):
        _, acc_cpu, pc_cpu = cpu_accuracy(scores, labels, top_k)
        acc, pc = accuracy_kernels(scores, labels, 3, 1, top_k)
        np.testing.assert_array_equal(acc, acc_cpu)
        np.testing.assert_array_equal(pc, pc_cpu)


def test_accuracy_kernels_all_ignored_and_empty_give_zero():
    scores = np.eye(3)
    acc, pc = accuracy_kernels(scores, np.full(3, 255.0), 3, 1, 1, ignore=255)
    assert acc == 0 and not pc.any()
    acc, pc = accuracy_kernels(np.zeros((0, 3)), np.zeros(0), 3, 1, 1)
    assert acc == 0 and not pc.any()


def test_accuracy_kernels_bad_label_poisons_every_output():
    scores = np.eye(3)
    with pytest.raises(DataError, match="bad label 3"):
        cpu_accuracy(scores, np.array([0.0, 3.0, 2.0]), 1)
    for bad in (3.0, -1.0, np.nan, 1e12):
        acc, pc = accuracy_kernels(scores, np.array([0.0, bad, 2.0]), 3, 1, 1, chunk=1)
        assert np.isnan(acc) and np.isnan(pc).all()


def test_accuracy_float32_build_odd_launch():
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 4, (5, 6, 7)).astype(np.float32)
    labels = rng.integers(-1, 6, (5, 7)).astype(np.float32)
    layer, acc_cpu, pc_cpu = cpu_accuracy(scores, labels, 2, ignore=-1, dtype=np.float32)
    acc, pc = accuracy_kernels(scores, labels, 6, 7, 2, ignore=-1, chunk=3, grid=5, block=7)
    assert acc.dtype == np.float32
    np.testing.assert_array_equal(acc, acc_cpu)
    np.testing.assert_array_equal(pc, pc_cpu)


# ---- ArgMax ------------------------------------------------------------------------------

def argmax_kernel(x, dim, inner, top_k, index_slot, value_slot, slots, out_shape, grid=3, block=4):
    out = np.full(out_shape, -9, dtype=x.dtype)  # every element must be overwritten
    outer = x.size // (dim * inner)
    cuda_host.launch("argmax", "argmax_topk", outer * inner,
                     (np.ascontiguousarray(x), I(dim), I(inner), I(top_k), I(index_slot), I(value_slot),
                      I(slots), out), dtype=x.dtype, grid=grid, block=block)
    return out


def argmax_via_kernel(x, top_k, out_max_val, axis=None, **launch):
    """The argmax.cu launch the glue makes, for the CPU layer's top shape."""
    text = f'type: "ArgMax" argmax_param {{ top_k: {top_k} out_max_val: {str(out_max_val).lower()}'
    text += (f" axis: {axis} }}" if axis is not None else " }")
    _, _, top = run_layer(text, [x], dtype=x.dtype)
    if axis is not None:
        a = axis % x.ndim
        dim, inner = x.shape[a], int(np.prod(x.shape[a + 1:]))
        slots, (index_slot, value_slot) = 1, ((-1, 0) if out_max_val else (0, -1))
    else:
        dim, inner = x[0].size, 1
        slots, index_slot, value_slot = (2 if out_max_val else 1), 0, (1 if out_max_val else -1)
    got = argmax_kernel(x, dim, inner, top_k, index_slot, value_slot, slots, top[0].shape, **launch)
    return got, top[0].data


@pytest.mark.parametrize("axis", [None, 0, 1, 2, -1])
@pytest.mark.parametrize("top_k", [1, 2, 3])
@pytest.mark.parametrize("out_max_val", [False, True])
def test_argmax_kernel_matches_the_cpu_layer_with_ties(axis, top_k, out_max_val):
    rng = np.random.default_rng(top_k)
    x = rng.integers(-2, 2, (3, 4, 5)).astype(np.float64)  # 4 values: ties everywhere
    x[0, 0, 0] = -0.0  # equal to 0.0: ranked by index
    got, want = argmax_via_kernel(x, top_k, out_max_val, axis)
    np.testing.assert_array_equal(got, want)


def test_argmax_kernel_tie_order_by_hand_and_nan_last():
    x = np.array([[3.0, 5.0, 5.0, 1.0, 5.0], [0.0, 0.0, 0.0, 0.0, 0.0], [np.nan, 2.0, np.nan, -np.inf, 2.0]])
    got, want = argmax_via_kernel(x, 5, True)
    np.testing.assert_array_equal(got[:, 0, :], [[4, 2, 1, 0, 3], [4, 3, 2, 1, 0], [4, 1, 3, 2, 0]])
    np.testing.assert_array_equal(got, want)  # NaN compares equal in assert_array_equal


def test_argmax_kernel_top_k_equal_to_dim_and_4d_axis():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 2))
    for axis in (None, 1, 3):
        k = x[0].size if axis is None else x.shape[axis]
        got, want = argmax_via_kernel(x, k, axis is None, axis)
        np.testing.assert_array_equal(got, want)


def test_argmax_float32_build_odd_launch():
    x = np.random.default_rng(3).integers(0, 3, (5, 6, 3)).astype(np.float32)
    for axis in (None, 1):
        got, want = argmax_via_kernel(x, 2, True, axis, grid=5, block=7)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


# ---- the GPU path on the emulated device ----------------------------------------------------

def _forward_on_emulated(text, arrays, n_top, dtype=np.float32):
    with emulated_gpu():
        layer = make_layer(text)
        bottom, top = blobs_from(*arrays, dtype=dtype), empty_tops(n_top, dtype=dtype)
        layer.layer_setup(bottom, top)
        fallbacks = []
        layer._log_host_fallback = lambda: fallbacks.append(layer.type)
        for b in bottom:
            _ = b.gpu_data  # upload the inputs first
        before = dict(FakeCupy.stats)
        layer.forward(bottom, top)
        moved = (FakeCupy.stats["d2h"] - before["d2h"], FakeCupy.stats["h2d"] - before["h2d"])
        with pytest.raises(ConfigError, match="cannot backpropagate"):
            layer.backward(top, [True] + [False] * (len(bottom) - 1), bottom)
        layer.backward(top, [False] * len(bottom), bottom)
        outputs = [t.data.copy() for t in top]
    assert not fallbacks, "the GPU path ran its host fallback"
    return outputs, moved


def test_accuracy_gpu_path_moves_nothing_and_has_no_backward():
    rng = np.random.default_rng(6)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6).astype(float)
    text = 'type: "Accuracy" accuracy_param { top_k: 2 }'
    (acc, pc), moved = _forward_on_emulated(text, [x, labels], 2)
    assert moved == (1, 0)  # the bad-label flag
    _, _, top = run_layer(text, [x, labels], n_top=2, dtype=np.float32)
    np.testing.assert_array_equal(acc, top[0].data)
    np.testing.assert_array_equal(pc, top[1].data)


def test_accuracy_gpu_path_bad_label_raises_the_cpu_error():
    with pytest.raises(DataError, match="bad label 7"):
        _forward_on_emulated('type: "Accuracy"', [np.eye(3), np.array([0.0, 7.0, 2.0])], 2)


def test_argmax_gpu_path_moves_nothing_and_has_no_backward():
    x = np.random.default_rng(8).standard_normal((3, 4, 5))
    text = 'type: "ArgMax" argmax_param { top_k: 2 axis: 1 }'
    (y,), moved = _forward_on_emulated(text, [x], 1)
    assert moved == (0, 0)
    np.testing.assert_array_equal(y, run_layer(text, [x], dtype=np.float32)[2][0].data)
