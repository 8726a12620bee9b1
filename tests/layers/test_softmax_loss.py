"""SoftmaxWithLoss: forward vs torch cross_entropy per normalization, gradients, bad labels."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, DataError, ShapeError
from caffeine.testing.layer_helpers import run_layer
from loss_checks import check_loss_gradient, check_weighted_loss_against_torch

RNG = np.random.default_rng(7)
FLT_MIN = float(np.finfo(np.float32).tiny)


def torch_loss(x, labels, reduction="mean", ignore_index=-100, axis=1):
    """F.cross_entropy with the class axis moved to 1 and labels shaped like the rest."""
    xt = torch.from_numpy(np.moveaxis(x, axis, 1).copy())
    lt = torch.from_numpy(labels.astype(np.int64))
    return F.cross_entropy(xt, lt, reduction=reduction, ignore_index=ignore_index)


def spatial_case(ignore=None):
    x = RNG.standard_normal((2, 4, 3, 2)) * 2
    labels = RNG.integers(0, 4, (2, 3, 2))
    if ignore is not None:
        labels[0, 0, 0] = ignore
        labels[1, 2, 1] = ignore
        labels[1, 0, 1] = ignore
    return x, labels


def test_shapes_loss_scalar_and_prob_top():
    x, labels = spatial_case()
    _, _, top = run_layer('type: "SoftmaxWithLoss"', [x, labels[:, None]], n_top=2)
    assert top[0].shape == ()
    assert top[1].shape == x.shape


def test_forward_2d_matches_torch_mean():
    x = RNG.standard_normal((5, 7)) * 3
    labels = RNG.integers(0, 7, 5)
    layer, _, top = run_layer('type: "SoftmaxWithLoss"', [x, labels])
    np.testing.assert_allclose(top[0].data, torch_loss(x, labels).item(), rtol=1e-12)


@pytest.mark.parametrize("mode, reduction, divisor", [
    ("VALID", "mean", None),
    ("FULL", "sum", 2 * 3 * 2),
    ("BATCH_SIZE", "sum", 2),
    ("NONE", "sum", 1),
])
def test_normalization_modes_with_ignore_label(mode, reduction, divisor):
    x, labels = spatial_case(ignore=255)
    text = f'type: "SoftmaxWithLoss" loss_param {{ ignore_label: 255 normalization: {mode} }}'
    _, _, top = run_layer(text, [x, labels.reshape(2, 1, 3, 2)])
    expected = torch_loss(x, labels, reduction, ignore_index=255).item()
    if divisor:
        expected /= divisor
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


@pytest.mark.parametrize("normalize, reduction, divisor", [("true", "mean", None),
                                                           ("false", "sum", 2)])
def test_legacy_normalize_bool(normalize, reduction, divisor):
    x, labels = spatial_case(ignore=3)
    text = f'type: "SoftmaxWithLoss" loss_param {{ ignore_label: 3 normalize: {normalize} }}'
    _, _, top = run_layer(text, [x, labels])
    expected = torch_loss(x, labels, reduction, ignore_index=3).item()
    if divisor:
        expected /= divisor
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


def test_softmax_axis_param():
    x = RNG.standard_normal((2, 3, 5))  # classes on the last axis
    labels = RNG.integers(0, 5, (2, 3))
    _, _, top = run_layer('type: "SoftmaxWithLoss" softmax_param { axis: -1 }', [x, labels], 2)
    np.testing.assert_allclose(top[0].data, torch_loss(x, labels, axis=2).item(), rtol=1e-12)
    np.testing.assert_allclose(top[1].data, F.softmax(torch.from_numpy(x), -1).numpy(), rtol=1e-12)


def test_prob_top_matches_torch_softmax():
    x, labels = spatial_case()
    _, _, top = run_layer('type: "SoftmaxWithLoss"', [x, labels], n_top=2)
    np.testing.assert_allclose(top[1].data, F.softmax(torch.from_numpy(x), 1).numpy(), rtol=1e-12)


def test_log_floor_is_flt_min():
    # prob of the label underflows to 0 in float64: Caffe's loss is -log(FLT_MIN), not 1e4
    x = np.array([[0.0, -1e4]])
    _, _, top = run_layer('type: "SoftmaxWithLoss"', [x, np.array([1.0])])
    np.testing.assert_allclose(top[0].data, -np.log(FLT_MIN), rtol=1e-12)


def test_all_labels_ignored_gives_zero_loss_and_gradient():
    x = RNG.standard_normal((3, 4))
    layer, bottom, top = run_layer('type: "SoftmaxWithLoss" loss_param { ignore_label: 1 }',
                                   [x, np.ones(3)])
    assert top[0].data == 0.0
    layer.backward(top, [True, False], bottom)
    assert np.all(bottom[0].diff == 0.0)


def test_float_labels_truncate_like_static_cast():
    x = RNG.standard_normal((3, 4))
    _, _, top = run_layer('type: "SoftmaxWithLoss"', [x, np.array([0.9, 2.5, 3.99])])
    np.testing.assert_allclose(top[0].data, torch_loss(x, np.array([0, 2, 3])).item(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["VALID", "FULL", "BATCH_SIZE", "NONE"])
def test_gradient_spatial_with_ignore(mode):
    x, labels = spatial_case(ignore=-1)
    check_loss_gradient(f'type: "SoftmaxWithLoss" loss_param {{ ignore_label: -1 normalization: {mode} }}',
                        [x, labels.reshape(2, 1, 3, 2)], n_top=2)


def test_gradient_axis_last():
    x = RNG.standard_normal((3, 2, 4))
    labels = RNG.integers(0, 4, (3, 2))
    check_loss_gradient('type: "SoftmaxWithLoss" softmax_param { axis: 2 }', [x, labels])


def test_loss_weight_scales_loss_and_gradient():
    x, labels = spatial_case(ignore=9)
    check_weighted_loss_against_torch(
        'type: "SoftmaxWithLoss" loss_weight: 2.5 loss_param { ignore_label: 9 }', [x, labels],
        lambda xt: 2.5 * F.cross_entropy(xt, torch.from_numpy(labels), ignore_index=9),
        rtol=1e-10, atol=1e-15)


def test_float32_forward():
    x, labels = spatial_case()
    _, _, top = run_layer('type: "SoftmaxWithLoss"', [x, labels], dtype=np.float32)
    assert top[0].data.dtype == np.float32
    np.testing.assert_allclose(top[0].data, torch_loss(x, labels).item(), rtol=1e-5)


@pytest.mark.parametrize("bad, pattern", [
    (4, r"bad label 4 at index \(1,\) of label blob 'b1'.*\[0, 4\)"),
    (-1, r"bad label -1 at index \(1,\)"),
    (np.nan, r"bad label nan"),
])
def test_out_of_range_label_rejected(bad, pattern):
    x = RNG.standard_normal((3, 4))
    with pytest.raises(DataError, match=r"layer 'softmaxwithloss' \(SoftmaxWithLoss\): " + pattern):
        run_layer('type: "SoftmaxWithLoss"', [x, np.array([0.0, bad, 2.0])])


def test_ignore_label_outside_range_is_accepted():
    x = RNG.standard_normal((3, 4))
    _, _, top = run_layer('type: "SoftmaxWithLoss" loss_param { ignore_label: -1 }',
                          [x, np.array([0.0, -1.0, 2.0])])
    labels = np.array([0, -1, 2])
    np.testing.assert_allclose(top[0].data, torch_loss(x, labels, ignore_index=-1).item(), rtol=1e-12)


def test_label_count_mismatch_rejected():
    x = RNG.standard_normal((2, 4, 3))
    with pytest.raises(ShapeError, match="number of labels must match number of predictions"):
        run_layer('type: "SoftmaxWithLoss"', [x, np.zeros((2, 1))])


def test_first_dimension_mismatch_rejected():
    with pytest.raises(ConfigError, match="same first dimension"):
        run_layer('type: "SoftmaxWithLoss"', [np.zeros((2, 3)), np.zeros(3)])


def test_backprop_to_labels_rejected():
    x = RNG.standard_normal((3, 4))
    layer, bottom, top = run_layer('type: "SoftmaxWithLoss"', [x, np.array([0.0, 1.0, 2.0])])
    with pytest.raises(ConfigError, match="cannot backpropagate to label inputs"):
        layer.backward(top, [True, True], bottom)
    assert not layer.allow_force_backward(1)


def test_too_many_tops_rejected():
    with pytest.raises(ConfigError, match="wrong number of top blobs"):
        run_layer('type: "SoftmaxWithLoss"', [np.zeros((2, 3)), np.zeros(2)], n_top=3)


def test_bad_axis_rejected():
    with pytest.raises(ConfigError, match="softmax_param.axis"):
        run_layer('type: "SoftmaxWithLoss" softmax_param { axis: 3 }', [np.zeros((2, 3)), np.zeros(2)])
