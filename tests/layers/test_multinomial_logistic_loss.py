"""MultinomialLogisticLoss: forward vs torch nll_loss(log p), 1e-20 floor, gradients, bad labels."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, DataError, ShapeError
from caffeine.testing.layer_helpers import run_layer
from loss_checks import check_loss_gradient, check_weighted_loss_against_torch

RNG = np.random.default_rng(17)


def probabilities(num, classes):
    p = RNG.uniform(0.05, 1.0, (num, classes))
    return p / p.sum(axis=1, keepdims=True)


def test_shape_and_forward_matches_torch():
    p = probabilities(6, 5)
    labels = RNG.integers(0, 5, 6)
    _, _, top = run_layer('type: "MultinomialLogisticLoss"', [p, labels])
    assert top[0].shape == ()
    expected = F.nll_loss(torch.log(torch.from_numpy(p)), torch.from_numpy(labels)).item()
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


def test_4d_bottoms():
    p = probabilities(3, 4).reshape(3, 4, 1, 1)
    labels = RNG.integers(0, 4, (3, 1, 1, 1))
    _, _, top = run_layer('type: "MultinomialLogisticLoss"', [p, labels])
    expected = -np.log(p.reshape(3, 4)[np.arange(3), labels.reshape(-1)]).mean()
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


def test_zero_probability_floored_at_1e_minus_20():
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    layer, bottom, top = run_layer('type: "MultinomialLogisticLoss"', [p, np.array([1.0, 0.0])])
    np.testing.assert_allclose(top[0].data, (-np.log(1e-20) - np.log(0.5)) / 2, rtol=1e-12)
    top[0].diff[...] = 1.0
    layer.backward(top, [True, False], bottom)
    np.testing.assert_allclose(bottom[0].diff, [[0, -1 / (2 * 1e-20)], [-1 / (2 * 0.5), 0]])


def test_gradient():
    p = probabilities(4, 5)
    labels = RNG.integers(0, 5, 4)
    check_loss_gradient('type: "MultinomialLogisticLoss"', [p, labels], stepsize=1e-7)


def test_loss_weight_scales_gradient_like_torch_autograd():
    p = probabilities(4, 3)
    labels = RNG.integers(0, 3, 4)
    check_weighted_loss_against_torch(
        'type: "MultinomialLogisticLoss" loss_weight: 2.5', [p, labels],
        lambda pt: 2.5 * F.nll_loss(torch.log(pt), torch.from_numpy(labels)))


def test_bad_label_rejected():
    with pytest.raises(DataError, match=r"\(MultinomialLogisticLoss\): bad label -2 at index \(0,\)"):
        run_layer('type: "MultinomialLogisticLoss"', [probabilities(2, 3), np.array([-2.0, 0.0])])


def test_label_shape_rejected():
    with pytest.raises(ShapeError, match="one label per sample"):
        run_layer('type: "MultinomialLogisticLoss"', [probabilities(2, 3), np.zeros((2, 2))])


def test_backprop_to_labels_rejected():
    layer, bottom, top = run_layer('type: "MultinomialLogisticLoss"', [probabilities(2, 3), np.zeros(2)])
    with pytest.raises(ConfigError, match="cannot backpropagate to label inputs"):
        layer.backward(top, [False, True], bottom)
