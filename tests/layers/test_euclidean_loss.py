"""EuclideanLoss: forward vs torch mse, gradients into both bottoms, loss weight, bad shapes."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, ShapeError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(5)


def test_shape_and_forward_matches_torch():
    a, b = RNG.standard_normal((2, 4, 5, 3))
    _, _, top = run_layer('type: "EuclideanLoss"', [a, b])
    assert top[0].shape == ()
    expected = F.mse_loss(torch.from_numpy(a), torch.from_numpy(b), reduction="sum").item() / 4 / 2
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


def test_same_count_different_shape_accepted():
    a = RNG.standard_normal((3, 6))
    b = RNG.standard_normal((3, 6, 1, 1))
    _, _, top = run_layer('type: "EuclideanLoss"', [a, b])
    np.testing.assert_allclose(top[0].data, ((a - b.reshape(3, 6)) ** 2).sum() / 3 / 2, rtol=1e-12)


@pytest.mark.parametrize("check_bottom", [[0, 1], [0], [1]])
def test_gradient_into_both_bottoms(check_bottom):
    a, b = RNG.standard_normal((2, 3, 2, 2))
    layer = make_layer('type: "EuclideanLoss"')
    bottom = blobs_from(a, b)
    top = empty_tops(1)
    layer.layer_setup(bottom, top)
    check_gradient(layer, bottom, top, check_bottom=check_bottom)
    assert layer.allow_force_backward(0) and layer.allow_force_backward(1)


def test_propagate_down_subset_leaves_other_diff():
    a, b = RNG.standard_normal((2, 3, 4))
    layer, bottom, top = run_layer('type: "EuclideanLoss"', [a, b])
    bottom[1].diff[...] = 9.0
    layer.backward(top, [True, False], bottom)
    assert np.all(bottom[1].diff == 9.0)
    np.testing.assert_allclose(bottom[0].diff, (a - b) / 3, rtol=1e-12)


def test_loss_weight_scales_loss_and_gradients():
    a, b = RNG.standard_normal((2, 4, 3))
    layer = make_layer('type: "EuclideanLoss" loss_weight: 2.5')
    bottom = blobs_from(a, b)
    top = empty_tops(1)
    layer.layer_setup(bottom, top)
    weighted = layer.forward(bottom, top)
    at = torch.from_numpy(a).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    ref = 2.5 * F.mse_loss(at, bt, reduction="sum") / 4 / 2
    ref.backward()
    np.testing.assert_allclose(weighted, ref.item(), rtol=1e-12)
    layer.backward(top, [True, True], bottom)
    np.testing.assert_allclose(bottom[0].diff, at.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bottom[1].diff, bt.grad.numpy(), rtol=1e-12)


def test_float32_forward():
    a, b = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    _, _, top = run_layer('type: "EuclideanLoss"', [a, b], dtype=np.float32)
    assert top[0].data.dtype == np.float32
    np.testing.assert_allclose(top[0].data, ((a.astype(np.float64) - b) ** 2).sum() / 10, rtol=1e-5)


def test_dimension_mismatch_rejected():
    pattern = r"layer 'euclideanloss' \(EuclideanLoss\): inputs must have the same dimension"
    with pytest.raises(ShapeError, match=pattern):
        run_layer('type: "EuclideanLoss"', [np.zeros((2, 3)), np.zeros((2, 4))])


def test_first_dimension_mismatch_rejected():
    with pytest.raises(ConfigError, match="same first dimension"):
        run_layer('type: "EuclideanLoss"', [np.zeros((2, 3)), np.zeros((3, 2))])
