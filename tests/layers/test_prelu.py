"""PReLU: forward vs torch, slope and input gradients, accumulation, in place, bad shapes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(22)


def prelu_text(shared=False, filler=""):
    return (f'type: "PReLU" prelu_param {{ channel_shared: {str(shared).lower()} {filler} }}')


def setup_layer(x, shared=False, slopes=None, inplace=False):
    layer = make_layer(prelu_text(shared))
    b = blob_from(x)
    t = b if inplace else empty_tops(1)[0]
    layer.layer_setup([b], [t])
    if slopes is not None:
        layer.blobs[0].data[...] = slopes
    return layer, b, t


def test_default_filler_is_constant_quarter():
    layer, _, _ = setup_layer(RNG.standard_normal((2, 3, 4)))
    assert layer.blobs[0].shape == (3,)
    np.testing.assert_array_equal(layer.blobs[0].data, 0.25)
    shared, _, _ = setup_layer(RNG.standard_normal((2, 3, 4)), shared=True)
    assert shared.blobs[0].shape == () and shared.blobs[0].count() == 1


def test_filler_is_honoured():
    layer = make_layer(prelu_text(filler='filler { type: "constant" value: -0.5 }'))
    layer.layer_setup(blobs_from(np.zeros((2, 4, 3))), empty_tops(1))
    np.testing.assert_array_equal(layer.blobs[0].data, -0.5)


@pytest.mark.parametrize("shared", [False, True])
def test_forward_matches_torch(shared):
    x = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)
    slopes = np.float32(0.3) if shared else RNG.uniform(-0.5, 0.8, 3).astype(np.float32)
    layer = make_layer(prelu_text(shared))
    b, t = blob_from(x, dtype=np.float32), empty_tops(1, dtype=np.float32)[0]
    layer.layer_setup([b], [t])
    layer.blobs[0].data[...] = slopes
    layer.forward([b], [t])
    assert t.shape == x.shape
    weight = torch.from_numpy(np.atleast_1d(slopes))
    np.testing.assert_allclose(t.data, F.prelu(torch.from_numpy(x), weight).numpy(), rtol=1e-6)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 2, 2), (3, 2)])
def test_gradient_input_and_slopes(shared, inplace, shape):
    x = RNG.standard_normal(shape)
    slopes = 0.3 if shared else RNG.uniform(-0.5, 0.8, shape[1])
    layer, b, t = setup_layer(x, shared, slopes, inplace)
    check_gradient(layer, [b], [t], kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("shared", [False, True])
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(shared, inplace):
    x = RNG.standard_normal((2, 3, 4))
    dy = RNG.standard_normal(x.shape)
    slopes = np.array(0.3) if shared else RNG.uniform(-0.5, 0.8, 3)
    layer, b, t = setup_layer(x, shared, slopes, inplace)
    layer.forward([b], [t])
    t.diff[...] = dy
    layer.backward([t], [True], [b])
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(np.atleast_1d(slopes).copy()).requires_grad_()
    F.prelu(xt, wt).backward(torch.from_numpy(dy))
    np.testing.assert_allclose(b.diff, xt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.atleast_1d(layer.blobs[0].diff), wt.grad.numpy(), rtol=1e-10)


def test_slope_diff_accumulates_and_respects_flags():
    x = RNG.standard_normal((2, 3, 4))
    layer, b, t = setup_layer(x)
    layer.forward([b], [t])
    t.diff[...] = RNG.standard_normal(x.shape)
    layer.backward([t], [True], [b])
    once = layer.blobs[0].diff.copy()
    assert np.any(once != 0)
    layer.backward([t], [True], [b])
    np.testing.assert_allclose(layer.blobs[0].diff, 2 * once)
    layer.param_propagate_down = [False]
    b.diff[...] = 5.0
    layer.backward([t], [False], [b])
    np.testing.assert_allclose(layer.blobs[0].diff, 2 * once)
    assert np.all(b.diff == 5.0)


def test_one_axis_bottom_rejected():
    with pytest.raises(ConfigError, match="axes"):
        run_layer(prelu_text(), [np.zeros(4)])


def test_channel_change_after_setup_rejected():
    layer, b, t = setup_layer(np.zeros((2, 3, 4)))
    b.reshape(2, 5, 4)
    with pytest.raises(ConfigError, match="channel"):
        layer.forward([b], [t])


def test_preloaded_slopes_of_wrong_size_rejected():
    layer = make_layer(prelu_text())
    layer.blobs = [layer.new_blob(5)]
    with pytest.raises(ConfigError, match="inconsistent"):
        layer.layer_setup(blobs_from(np.zeros((2, 3, 4))), empty_tops(1))
