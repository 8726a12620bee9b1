"""HingeLoss: Caffe's one-vs-all hinge (numpy transcription), L1/L2, gradients, bad labels."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError, DataError, ShapeError
from caffeine.testing.layer_helpers import run_layer
from loss_checks import check_loss_gradient, check_weighted_loss_against_torch

RNG = np.random.default_rng(13)


def caffe_hinge(x, labels, norm):
    """Transcription of HingeLossLayer::Forward_cpu (loops kept on purpose)."""
    num = x.shape[0]
    dim = x.size // num
    d = x.reshape(num, dim).copy()
    for i in range(num):
        d[i, int(labels[i])] *= -1
    for i in range(num):
        for j in range(dim):
            d[i, j] = max(0.0, 1 + d[i, j])
    return (np.abs(d).sum() if norm == "L1" else (d * d).sum()) / num


def away_from_kinks(shape):
    """Scores with 1 + t*x never within 0.05 of 0, so L1 finite differences are clean."""
    x = RNG.uniform(-2.5, 2.5, shape)
    near = np.abs(np.abs(x) - 1) < 0.05
    x[near] += 0.2
    return x


@pytest.mark.parametrize("norm", ["L1", "L2"])
def test_forward_matches_caffe_formula(norm):
    x = RNG.standard_normal((6, 5)) * 1.5
    labels = RNG.integers(0, 5, 6)
    _, _, top = run_layer(f'type: "HingeLoss" hinge_loss_param {{ norm: {norm} }}', [x, labels])
    assert top[0].shape == ()
    np.testing.assert_allclose(top[0].data, caffe_hinge(x, labels, norm), rtol=1e-12)


def test_default_norm_is_l1_and_4d_bottom():
    x = RNG.standard_normal((3, 4, 1, 1))
    labels = RNG.integers(0, 4, (3, 1, 1, 1))
    _, _, top = run_layer('type: "HingeLoss"', [x, labels])
    np.testing.assert_allclose(top[0].data, caffe_hinge(x, labels.reshape(-1), "L1"), rtol=1e-12)


@pytest.mark.parametrize("norm", ["L1", "L2"])
def test_gradient(norm):
    x = away_from_kinks((4, 5))
    labels = RNG.integers(0, 5, 4)
    check_loss_gradient(f'type: "HingeLoss" hinge_loss_param {{ norm: {norm} }}', [x, labels])


@pytest.mark.parametrize("norm", ["L1", "L2"])
def test_loss_weight_scales_gradient_like_torch_autograd(norm):
    x = away_from_kinks((4, 6))
    labels = RNG.integers(0, 6, 4)

    def weighted_hinge(xt):
        sign = torch.ones_like(xt)
        sign[torch.arange(4), torch.from_numpy(labels)] = -1
        margin = torch.relu(1 + sign * xt)
        return 2.5 * (margin.sum() if norm == "L1" else (margin ** 2).sum()) / 4

    check_weighted_loss_against_torch(
        f'type: "HingeLoss" loss_weight: 2.5 hinge_loss_param {{ norm: {norm} }}', [x, labels], weighted_hinge)


def test_bad_label_rejected():
    with pytest.raises(DataError, match=r"layer 'hingeloss' \(HingeLoss\): bad label 5 at index \(2,\)"):
        run_layer('type: "HingeLoss"', [np.zeros((3, 5)), np.array([0.0, 1.0, 5.0])])


def test_label_count_mismatch_rejected():
    with pytest.raises(ShapeError, match="one label per sample"):
        run_layer('type: "HingeLoss"', [np.zeros((3, 5)), np.zeros((3, 2))])


def test_backprop_to_labels_rejected():
    layer, bottom, top = run_layer('type: "HingeLoss"', [np.zeros((2, 3)), np.zeros(2)])
    with pytest.raises(ConfigError, match="cannot backpropagate to label inputs"):
        layer.backward(top, [True, True], bottom)
