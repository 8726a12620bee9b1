"""The InfogainLoss and MultinomialLogisticLoss kernels (layers_cuda/prob_losses.cu), built for
the host (host_shim.h + g++ + ctypes), against the CPU layers and numpy oracles: the 1e-20
log floor, zero rows in H, ignore_label, bad labels (NaN), a float32 build with odd launch
sizes; and the glue on the emulated GPU: H from infogain_loss_param.source, no readback."""
import numpy as np
import pytest

from caffeine.errors import DataError
from caffeine.proto import caffe_pb2
from caffeine.testing import cuda_host
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer
from layer_cases import Case
from parity_lib import assert_same, run_case

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
F = np.float64


def cpu_layer(text, arrays, top_diff, n_top=1):
    layer = make_layer(text)
    bottom, top = blobs_from(*arrays), empty_tops(n_top)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = top_diff
    layer.backward(top, [True] + [False] * (len(bottom) - 1), bottom)
    return layer, top[0].data.item(), bottom[0].diff.copy()


def infogain_on_host(x, labels, h, axis, ignore, top_diff, normalizer=None, dtype=F, grid=3, block=4):
    """The glue's sequence of launches on host arrays: (loss, valid, bottom diff)."""
    outer, channels = int(np.prod(x.shape[:axis])), x.shape[axis]
    inner = x.size // (outer * channels)
    x, labels, h = (np.ascontiguousarray(a, dtype=dtype) for a in (x, labels, h))
    prob = np.zeros_like(x)
    cuda_host.launch("softmax", "softmax_forward", outer * inner, (x, I(channels), I(inner), prob), dtype=dtype,
                     grid=grid, block=block)
    flags = (I(1), I(ignore)) if ignore is not None else (I(0), I(0))
    loss = np.zeros(outer * inner, dtype=dtype)
    valid = np.zeros(outer * inner, dtype=dtype)
    cuda_host.launch("prob_losses", "infogain_loss_forward", outer * inner,
                     (prob, labels, h, I(channels), I(inner), *flags, loss, valid), dtype=dtype, grid=grid, block=block)
    row_sums = np.zeros(channels, dtype=dtype)
    cuda_host.launch("prob_losses", "infogain_row_sums", channels, (h, row_sums), dtype=dtype, grid=grid, block=block)
    norm = max(valid.sum(), 1.0) if normalizer is None else normalizer
    scale = np.array([top_diff / norm], dtype=dtype)
    dx = np.zeros_like(x)
    cuda_host.launch("prob_losses", "infogain_loss_backward", x.size,
                     (prob, labels, h, row_sums, I(channels), I(inner), *flags, scale, dx), dtype=dtype, grid=grid,
                     block=block)
    return loss, valid, dx, prob


def test_infogain_kernels_match_the_cpu_layer_with_ignore_zero_rows_and_floor():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2, 2)) * 40  # saturated: many probabilities below 1e-20
    labels = rng.integers(0, 4, size=(3, 2, 2)).astype(F)
    labels[0, 0, 0], labels[1, 1, 1], labels[2, 0, 1] = 3, 2, 2  # 3: zero row; 2: ignored
    h = rng.uniform(0, 1, (4, 4)) + np.eye(4)
    h[3] = 0
    text = 'type: "InfogainLoss" loss_param { ignore_label: 2 normalization: VALID }'
    layer, loss_cpu, dx_cpu = cpu_layer(text, [x, labels, h], 0.7)
    assert (layer.prob < 1e-20).any()  # the floor is exercised
    loss, valid, dx, prob = infogain_on_host(x, labels, h, 1, 2, 0.7)
    np.testing.assert_allclose(loss.sum() / valid.sum(), loss_cpu, rtol=1e-13)
    np.testing.assert_allclose(dx, dx_cpu, rtol=1e-12, atol=1e-300)
    # numpy oracle: ignored positions and the zero row give no loss and no gradient
    flat = labels.reshape(-1)
    np.testing.assert_array_equal(valid, (flat != 2).astype(F))
    np.testing.assert_array_equal(loss[(flat == 2) | (flat == 3)], 0)
    dx_pos = dx.transpose(0, 2, 3, 1).reshape(-1, 4)
    np.testing.assert_array_equal(dx_pos[(flat == 2) | (flat == 3)], 0)
    p = prob.transpose(0, 2, 3, 1).reshape(-1, 4)
    k = int(np.flatnonzero(flat == 0)[0])
    np.testing.assert_allclose(loss[k], -(h[0] * np.log(np.maximum(p[k], 1e-20))).sum(), rtol=1e-13)


@pytest.mark.parametrize("mode", ["FULL", "BATCH_SIZE", "NONE"])
def test_infogain_kernels_on_axis_2_with_each_fixed_normalizer(mode):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 5, 2))
    labels = rng.integers(0, 5, size=(2, 3, 2)).astype(F)
    labels[0, 0, 0] = -1  # ignore_label -1
    h = rng.uniform(0, 2, (5, 5))
    text = (f'type: "InfogainLoss" infogain_loss_param {{ axis: 2 }} '
            f'loss_param {{ ignore_label: -1 normalization: {mode} }}')
    layer, loss_cpu, dx_cpu = cpu_layer(text, [x, labels, h], 1.9)
    loss, _, dx, _ = infogain_on_host(x, labels, h, 2, -1, 1.9, normalizer=layer.norm)
    np.testing.assert_allclose(loss.sum() / layer.norm, loss_cpu, rtol=1e-13)
    np.testing.assert_allclose(dx, dx_cpu, rtol=1e-12, atol=1e-300)


def test_bad_labels_give_nan_instead_of_reading_out_of_bounds():
    x = np.zeros((4, 3))
    labels = np.array([0, 3, -1.5, np.nan])  # 3 and -1.5 out of range, NaN: not a label
    loss, valid, dx, _ = infogain_on_host(x, labels, np.ones((3, 3)), 1, None, 1.0)
    assert np.isfinite(loss[0]) and np.isnan(loss[1:]).all()
    np.testing.assert_array_equal(valid, [1, 0, 0, 0])
    assert np.isfinite(dx[0]).all() and np.isnan(dx[1:]).all()
    p = np.full((2, 3), 1 / 3)
    mll_loss = np.zeros(2)
    cuda_host.launch("prob_losses", "mll_forward", 2, (p, np.array([1.0, 7.0]), I(3), mll_loss), dtype=F)
    assert np.isfinite(mll_loss[0]) and np.isnan(mll_loss[1])


def mll_on_host(p, labels, top_diff, dtype=F, grid=3, block=4):
    num = p.shape[0]
    dim = p.size // num
    p, labels = np.ascontiguousarray(p, dtype=dtype), np.ascontiguousarray(labels, dtype=dtype)
    loss = np.zeros(num, dtype=dtype)
    cuda_host.launch("prob_losses", "mll_forward", num, (p, labels, I(dim), loss), dtype=dtype, grid=grid,
                     block=block)
    dx = np.zeros_like(p)
    cuda_host.launch("prob_losses", "mll_backward", p.size,
                     (p, labels, I(dim), I(num), np.array([top_diff], dtype=dtype), dx), dtype=dtype, grid=grid,
                     block=block)
    return loss, dx


def test_mll_kernels_match_the_cpu_layer_with_zero_probabilities():
    rng = np.random.default_rng(2)
    p = rng.uniform(0.05, 1, size=(5, 2, 3))
    labels = rng.integers(0, 6, size=5)
    p.reshape(5, 6)[[1, 4], labels[[1, 4]]] = 0  # clamped to 1e-20 in forward and backward
    _, loss_cpu, dx_cpu = cpu_layer('type: "MultinomialLogisticLoss"', [p, labels.astype(F)], 2.5)
    loss, dx = mll_on_host(p, labels.astype(F), 2.5)
    np.testing.assert_allclose(loss.sum() / 5, loss_cpu, rtol=1e-14)
    np.testing.assert_allclose(dx, dx_cpu, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(loss[[1, 4]], -np.log(1e-20), rtol=1e-14)
    assert dx.reshape(5, 6)[1, labels[1]] == pytest.approx(-2.5 / 5 / 1e-20, rel=1e-14)
    assert np.count_nonzero(dx) == 5


def test_float32_build_with_odd_launch_sizes():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7, 3)).astype(np.float32) * 30
    labels = rng.integers(0, 7, size=(5, 3)).astype(np.float32)
    h = rng.uniform(0, 1, (7, 7)).astype(np.float32)
    h[2] = 0
    text = 'type: "InfogainLoss" loss_param { ignore_label: 4 }'
    _, loss_cpu, dx_cpu = cpu_layer(text, [x, labels, h], 1.0)  # float64 reference
    loss, valid, dx, _ = infogain_on_host(x, labels, h, 1, 4, 1.0, dtype=np.float32, grid=5, block=7)
    np.testing.assert_allclose(loss.sum(dtype=F) / valid.sum(), loss_cpu, rtol=3e-5)
    np.testing.assert_allclose(dx, dx_cpu, rtol=3e-4, atol=2e-6)
    p = rng.uniform(0, 1, size=(9, 11)).astype(np.float32)
    mll_labels = rng.integers(0, 11, size=9).astype(np.float32)
    _, mll_cpu, mll_dx_cpu = cpu_layer('type: "MultinomialLogisticLoss"', [p, mll_labels], 0.5)
    mll_loss, mll_dx = mll_on_host(p, mll_labels, 0.5, dtype=np.float32, grid=3, block=5)
    np.testing.assert_allclose(mll_loss.sum(dtype=F) / 9, mll_cpu, rtol=1e-5)
    np.testing.assert_allclose(mll_dx, mll_dx_cpu, rtol=1e-5)


# ---- the glue on the emulated GPU -------------------------------------------------------------
def write_infogain_source(path, h):
    proto = caffe_pb2.BlobProto()
    proto.shape.dim.extend(h.shape)
    proto.data.extend(h.reshape(-1).astype(np.float32))
    path.write_bytes(proto.SerializeToString())
    return path


@pytest.mark.parametrize("kind", ["emulated", pytest.param("cuda", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infogain_with_source_matrix_matches_the_cpu_path(tmp_path, kind, dtype):
    h = np.random.default_rng(4).uniform(0, 1, (4, 4))
    h[1] = 0
    path = write_infogain_source(tmp_path / "H.binaryproto", h)
    case = Case("infogain_source", f'type: "InfogainLoss" infogain_loss_param {{ source: "{path}" }} '
                'loss_param { ignore_label: 0 }',
                lambda rng: [rng.standard_normal((6, 4)) * 30, np.array([0, 1, 2, 3, 1, 2.0])],
                propagate=[True, False], top_diff=0.8, n_top=2, dtype=dtype)
    gpu = run_case(case, kind)
    assert gpu["ran_gpu_path"]
    assert_same(case, run_case(case, None), gpu)


def _no_readback_case(name, tmp_path):
    rng = np.random.default_rng(5)
    labels = np.array([0, 2, 1, 1.0])
    if name == "mll":
        return 'type: "MultinomialLogisticLoss"', [rng.uniform(0.1, 1, (4, 3)), labels]
    if name == "infogain_source":
        path = write_infogain_source(tmp_path / "H.binaryproto", rng.uniform(0, 1, (3, 3)))
        return f'type: "InfogainLoss" infogain_loss_param {{ source: "{path}" }}', [rng.standard_normal((4, 3)),
                                                                                     labels]
    return 'type: "InfogainLoss"', [rng.standard_normal((4, 3)), labels, rng.uniform(0, 1, (3, 3))]


@pytest.mark.parametrize("name", ["infogain_bottom", "infogain_source", "mll"])
def test_forward_reads_back_one_flag_and_backward_nothing(tmp_path, name):
    text, arrays = _no_readback_case(name, tmp_path)
    with emulated_gpu():
        layer = make_layer(text)
        bottom, top = blobs_from(*arrays, dtype=np.float32), empty_tops(1, np.float32)
        layer.layer_setup(bottom, top)
        top[0].reshape(())
        top[0].gpu_diff[...] = 1.5  # the loss weight, set on the device as Net does
        for b in bottom:
            b.gpu_data  # the uploads happen here
        layer.forward(bottom, top)  # H from a source is uploaded once, here
        before = dict(FakeCupy.stats)
        for _ in range(2):
            layer.forward(bottom, top)
            layer.backward(top, [True] + [False] * (len(bottom) - 1), bottom)
        assert FakeCupy.stats["d2h"] - before["d2h"] == 2  # the bad-label (NaN loss) flag per forward
        assert FakeCupy.stats["h2d"] == before["h2d"]
        assert FakeCupy.stats["launches"] > before["launches"]
        assert np.isfinite(top[0].data).all() and np.abs(bottom[0].diff).sum() > 0


@pytest.mark.parametrize("name", ["infogain_bottom", "mll"])
def test_a_bad_label_raises_the_cpu_error_on_the_gpu_path(tmp_path, name):
    text, arrays = _no_readback_case(name, tmp_path)
    arrays[1] = np.array([0, 5, 1, 1.0])
    with emulated_gpu():
        layer = make_layer(text)
        bottom, top = blobs_from(*arrays, dtype=np.float32), empty_tops(1, np.float32)
        layer.layer_setup(bottom, top)
        with pytest.raises(DataError, match="label"):
            layer.forward(bottom, top)



def test_a_nan_probability_stays_nan_as_with_caffes_std_max_and_is_no_label_error(tmp_path):
    text, arrays = _no_readback_case("mll", tmp_path)
    arrays[0][1, 2] = np.nan  # the probability of row 1's label (2)
    with emulated_gpu():
        layer = make_layer(text)
        bottom, top = blobs_from(*arrays, dtype=np.float32), empty_tops(1, np.float32)
        layer.layer_setup(bottom, top)
        layer.forward(bottom, top)  # no DataError: the labels are fine; the NaN is for the divergence guard
        assert np.isnan(top[0].data).all()
