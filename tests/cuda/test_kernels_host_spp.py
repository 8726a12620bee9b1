"""SPP's GPU path (caffeine/cuda_layers/spp_gpu.py: pooling.cu per level + concat.cu) on the
emulated GPU (the kernels built for the host): odd launch sizes against the CPU layer,
STOCHASTIC in TRAIN (samples drawn on the device, so checked for consistency: every output
is an input of its window and every top diff lands on one), and no host transfers."""
import numpy as np
import pytest

from caffeine import backend
from caffeine.layers.spp import level_pooling
from caffeine.testing import cuda_host
from caffeine.testing.emulated_gpu import FakeCupy, emulated_gpu
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
TRAIN = 0


def run_spp(text, x, dy_seed=11, phase=None):
    """Forward and backward of an SPP layer in the current mode: (layer, top, bottom diff)."""
    layer = make_layer(text, phase)
    bottom, top = blobs_from(x, dtype=np.float32), empty_tops(1, np.float32)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    top[0].diff[...] = np.random.default_rng(dy_seed).standard_normal(top[0].shape)
    layer.backward(top, [True], bottom)
    return layer, top[0].data.copy(), top[0].diff.copy(), bottom[0].diff.copy()


@pytest.mark.parametrize("pool", ["MAX", "AVE"])
@pytest.mark.parametrize("launch_cap", [(1, 1), (3, 5)])
def test_odd_launch_sizes_match_the_cpu_layer(pool, launch_cap):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 11))
    text = f'type: "SPP" spp_param {{ pyramid_height: 3 pool: {pool} }}'
    _, y_cpu, _, dx_cpu = run_spp(text, x)
    with emulated_gpu(launch_cap=launch_cap):
        layer, y, _, dx = run_spp(text, x)
        assert layer.levels[2].geom.pad_h == 2 and layer.levels[2].geom.pad_w == 1  # Caffe's padded level
    np.testing.assert_allclose(y, y_cpu, rtol=3e-6, atol=1e-7)
    np.testing.assert_allclose(dx, dx_cpu, rtol=3e-6, atol=1e-7)


def test_stochastic_train_samples_an_input_of_each_window_and_routes_its_diff():
    x = np.random.default_rng(1).uniform(0.5, 2.0, size=(2, 2, 8, 12)).astype(np.float32)
    text = 'type: "SPP" spp_param { pyramid_height: 3 pool: STOCHASTIC }'
    with emulated_gpu(launch_cap=(2, 7)):
        backend.set_random_seed(3)
        _, y, dy, dx = run_spp(text, x, phase=TRAIN)
        backend.set_random_seed(3)
        _, y_again, _, _ = run_spp(text, x, phase=TRAIN)
    np.testing.assert_array_equal(y, y_again)  # reproducible from the global seed
    n, c, h, w = x.shape
    expected_dx = np.zeros_like(x)
    start = 0
    for level in range(3):
        kh, kw, ph, pw = level_pooling(level, h, w)
        assert ph == pw == 0
        bins = 2 ** level
        size = c * bins * bins
        out = y[:, start:start + size].reshape(n, c, bins, bins)
        grad = dy[:, start:start + size].reshape(n, c, bins, bins)
        for i in range(n):
            for j in range(c):
                for a in range(bins):
                    for b in range(bins):
                        window = x[i, j, a * kh:(a + 1) * kh, b * kw:(b + 1) * kw]
                        hits = np.flatnonzero(window.reshape(-1) == out[i, j, a, b])
                        assert hits.size >= 1, (level, i, j, a, b)
                        r, s = np.unravel_index(hits[0], window.shape)
                        expected_dx[i, j, a * kh + r, b * kw + s] += grad[i, j, a, b]
        start += size
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("height,pool", [(1, "MAX"), (3, "AVE"), (2, "STOCHASTIC")])
def test_forward_and_backward_move_nothing_between_host_and_device(height, pool):
    x = np.random.default_rng(2).uniform(0.5, 2.0, size=(2, 2, 8, 8)).astype(np.float32)
    with emulated_gpu():
        layer = make_layer(f'type: "SPP" spp_param {{ pyramid_height: {height} pool: {pool} }}', TRAIN)
        bottom, top = blobs_from(x, dtype=np.float32), empty_tops(1, np.float32)
        layer.layer_setup(bottom, top)
        layer.forward(bottom, top)
        top[0].gpu_diff[...] = 1.0
        before = dict(FakeCupy.stats)
        for _ in range(2):
            layer.forward(bottom, top)
            layer.backward(top, [True], bottom)
        assert FakeCupy.stats["d2h"] == before["d2h"] and FakeCupy.stats["h2d"] == before["h2d"]
        assert FakeCupy.stats["launches"] > before["launches"]
        # every level routes all of its top diff (1 per output) into the bottom diff
        np.testing.assert_allclose(bottom[0].diff.sum(), top[0].count(), rtol=1e-5)
