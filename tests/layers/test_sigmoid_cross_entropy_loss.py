"""SigmoidCrossEntropyLoss: forward vs torch BCE-with-logits, normalization, stability, gradients."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, ShapeError
from caffeine.testing.layer_helpers import run_layer
from loss_checks import check_loss_gradient, check_weighted_loss_against_torch

RNG = np.random.default_rng(19)


def bce_sum(x, t, mask=None):
    weight = None if mask is None else torch.from_numpy(mask.astype(np.float64))
    return F.binary_cross_entropy_with_logits(torch.from_numpy(x), torch.from_numpy(t),
                                              weight=weight, reduction="sum").item()


def case(ignore=None):
    x = RNG.standard_normal((3, 4, 2)) * 3
    t = RNG.integers(0, 2, x.shape).astype(np.float64)
    if ignore is not None:
        t[0, 1, 0] = t[2, 3, 1] = t[1, 0, 0] = ignore
    return x, t


def test_shape_and_default_normalization_is_batch_size():
    x, t = case()
    _, _, top = run_layer('type: "SigmoidCrossEntropyLoss"', [x, t])
    assert top[0].shape == ()
    np.testing.assert_allclose(top[0].data, bce_sum(x, t) / 3, rtol=1e-12)


@pytest.mark.parametrize("loss_param, divisor", [
    ("normalization: VALID", "valid"),
    ("normalization: FULL", 24),
    ("normalization: BATCH_SIZE", 3),
    ("normalization: NONE", 1),
    ("normalize: true", "valid"),
    ("normalize: false", 3),
    ("", 3),
])
def test_normalization_with_ignore_label(loss_param, divisor):
    x, t = case(ignore=-1)
    mask = t != -1
    text = f'type: "SigmoidCrossEntropyLoss" loss_param {{ ignore_label: -1 {loss_param} }}'
    _, _, top = run_layer(text, [x, t])
    divisor = mask.sum() if divisor == "valid" else divisor
    np.testing.assert_allclose(top[0].data, bce_sum(x, np.where(mask, t, 0), mask) / divisor,
                               rtol=1e-12)


def test_soft_targets():
    x = RNG.standard_normal((4, 3))
    t = RNG.uniform(0, 1, (4, 3))
    _, _, top = run_layer('type: "SigmoidCrossEntropyLoss"', [x, t])
    np.testing.assert_allclose(top[0].data, bce_sum(x, t) / 4, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_are_stable(dtype):
    x = np.array([[100.0, -100.0, 80.0, -80.0]])
    t = np.array([[0.0, 1.0, 1.0, 0.0]])
    _, _, top = run_layer('type: "SigmoidCrossEntropyLoss"', [x, t], dtype=dtype)
    assert np.isfinite(top[0].data)
    np.testing.assert_allclose(top[0].data, 200.0, rtol=1e-6)


def test_gradient_with_ignore_label_and_valid_normalization():
    x, t = case(ignore=5)
    check_loss_gradient('type: "SigmoidCrossEntropyLoss" '
                        'loss_param { ignore_label: 5 normalization: VALID }', [x, t])


def test_gradient_default():
    x = RNG.standard_normal((2, 5))
    t = RNG.uniform(0, 1, (2, 5))
    check_loss_gradient('type: "SigmoidCrossEntropyLoss"', [x, t])


def test_loss_weight_scales_gradient_like_torch_autograd():
    x, t = case(ignore=-1)
    mask = t != -1
    check_weighted_loss_against_torch(
        'type: "SigmoidCrossEntropyLoss" loss_weight: 2.5 loss_param { ignore_label: -1 normalization: VALID }',
        [x, t],
        lambda xt: 2.5 * F.binary_cross_entropy_with_logits(
            xt, torch.from_numpy(np.where(mask, t, 0)), weight=torch.from_numpy(mask.astype(float)),
            reduction="sum") / mask.sum(),
        rtol=1e-10, atol=1e-15)


def test_count_mismatch_rejected():
    pattern = r"\(SigmoidCrossEntropyLoss\): SigmoidCrossEntropyLoss inputs must have the same count"
    with pytest.raises(ShapeError, match=pattern):
        run_layer('type: "SigmoidCrossEntropyLoss"', [np.zeros((2, 3)), np.zeros((2, 4))])


def test_backprop_to_labels_rejected():
    layer, bottom, top = run_layer('type: "SigmoidCrossEntropyLoss"', [np.zeros((2, 3)), np.zeros((2, 3))])
    with pytest.raises(ConfigError, match="cannot backpropagate to label inputs"):
        layer.backward(top, [True, True], bottom)
