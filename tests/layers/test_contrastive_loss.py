"""ContrastiveLoss: numpy transcription of Caffe's forward/backward, both versions, gradients."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError, ShapeError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(23)


def caffe_contrastive(a, b, y, margin, legacy, top_diff=1.0):
    """Transcription of ContrastiveLossLayer::Forward_cpu/Backward_cpu (per-pair loops)."""
    num = a.shape[0]
    diff = a - b
    loss = 0.0
    dist_sq = np.zeros(num)
    for i in range(num):
        dist_sq[i] = diff[i] @ diff[i]
        if int(y[i]):
            loss += dist_sq[i]
        elif legacy:
            loss += max(margin - dist_sq[i], 0.0)
        else:
            loss += max(margin - np.sqrt(dist_sq[i]), 0.0) ** 2
    loss = loss / num / 2
    grads = []
    for sign in (1.0, -1.0):
        alpha = sign * top_diff / num
        g = np.zeros_like(a)
        for j in range(num):
            if int(y[j]):
                g[j] = alpha * diff[j]
            else:
                if legacy:
                    mdist, beta = margin - dist_sq[j], -alpha
                else:
                    dist = np.sqrt(dist_sq[j])
                    mdist = margin - dist
                    beta = -alpha * mdist / (dist + 1e-4)
                g[j] = beta * diff[j] if mdist > 0 else 0.0
        grads.append(g)
    return loss, grads


def pairs(num=6, channels=3, scale=0.4):
    a = RNG.standard_normal((num, channels)) * scale
    b = RNG.standard_normal((num, channels)) * scale
    y = (RNG.uniform(size=num) > 0.5).astype(np.float64)
    y[:2] = [0, 1]
    return a, b, y


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("margin", [1.0, 2.0])
def test_forward_and_backward_match_caffe(legacy, margin):
    a, b, y = pairs()
    text = (f'type: "ContrastiveLoss" contrastive_loss_param {{ margin: {margin} '
            f'legacy_version: {str(legacy).lower()} }}')
    layer, bottom, top = run_layer(text, [a, b, y])
    assert top[0].shape == ()
    loss, (ga, gb) = caffe_contrastive(a, b, y, margin, legacy, top_diff=1.7)
    np.testing.assert_allclose(top[0].data, loss, rtol=1e-12)
    top[0].diff[...] = 1.7
    layer.backward(top, [True, True, False], bottom)
    np.testing.assert_allclose(bottom[0].diff, ga, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bottom[1].diff, gb, rtol=1e-12, atol=1e-15)


def test_4d_bottoms_and_margin_hinge_inactive():
    a = np.zeros((2, 3, 1, 1))
    b = np.full((2, 3, 1, 1), 2.0)  # distance sqrt(12) > margin: dissimilar pair adds 0
    y = np.array([0.0, 1.0]).reshape(2, 1, 1, 1)
    _, _, top = run_layer('type: "ContrastiveLoss"', [a, b, y])
    np.testing.assert_allclose(top[0].data, 12.0 / 2 / 2)


def test_legacy_gradient_check():
    a, b, y = pairs()
    layer = make_layer('type: "ContrastiveLoss" contrastive_loss_param { legacy_version: true }')
    bottom = blobs_from(a, b, y)
    top = empty_tops(1)
    layer.layer_setup(bottom, top)
    check_gradient(layer, bottom, top, check_bottom=[0, 1])


@pytest.mark.parametrize("check_bottom", [[0, 1], [1]])
def test_gradient_check_new_version(check_bottom):
    # Caffe adds 1e-4 to the distance in the gradient only, so analytic and numeric
    # gradients differ by ~1e-4 / d relative; distances here are ~0.5
    a, b, y = pairs()
    layer = make_layer('type: "ContrastiveLoss" contrastive_loss_param { margin: 2.0 }')
    bottom = blobs_from(a, b, y)
    top = empty_tops(1)
    layer.layer_setup(bottom, top)
    check_gradient(layer, bottom, top, check_bottom=check_bottom, threshold=2e-3)


def test_loss_weight_scales_loss_and_gradient():
    a, b, y = pairs()
    layer = make_layer('type: "ContrastiveLoss" loss_weight: 2.5 '
                       'contrastive_loss_param { legacy_version: true margin: 1.5 }')
    bottom = blobs_from(a, b, y)
    top = empty_tops(1)
    layer.layer_setup(bottom, top)
    weighted = layer.forward(bottom, top)
    at = torch.from_numpy(a).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    d2 = ((at - bt) ** 2).sum(dim=1)
    sim = torch.from_numpy(y) != 0
    ref = 2.5 * torch.where(sim, d2, torch.relu(1.5 - d2)).sum() / 6 / 2
    ref.backward()
    np.testing.assert_allclose(weighted, ref.item(), rtol=1e-12)
    layer.backward(top, [True, True, False], bottom)
    np.testing.assert_allclose(bottom[0].diff, at.grad.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(bottom[1].diff, bt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_channel_mismatch_rejected():
    pattern = r"\(ContrastiveLoss\): the two feature bottoms must have the same number of channels"
    with pytest.raises(ShapeError, match=pattern):
        run_layer('type: "ContrastiveLoss"', [np.zeros((2, 3)), np.zeros((2, 4)), np.zeros(2)])


def test_spatial_features_rejected():
    with pytest.raises(ShapeError, match=r"must be N x C \(x 1 x 1\)"):
        run_layer('type: "ContrastiveLoss"', [np.zeros((2, 3, 2, 1)), np.zeros((2, 3, 2, 1)), np.zeros(2)])


def test_similarity_count_rejected():
    with pytest.raises(ShapeError, match="one value per pair"):
        run_layer('type: "ContrastiveLoss"', [np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(3)])


def test_backprop_to_similarity_rejected():
    layer, bottom, top = run_layer('type: "ContrastiveLoss"', [np.zeros((2, 3)), np.ones((2, 3)), np.zeros(2)])
    with pytest.raises(ConfigError, match="cannot backpropagate to similarity inputs"):
        layer.backward(top, [True, True, True], bottom)
    assert layer.allow_force_backward(1) and not layer.allow_force_backward(2)
