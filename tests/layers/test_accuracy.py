"""Accuracy: Caffe's tie rule (numpy transcription), torch topk, per-class top, bad params."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError, DataError, ShapeError
from caffeine.testing.layer_helpers import run_layer

RNG = np.random.default_rng(3)


def caffe_accuracy(scores, labels, top_k, axis=1, ignore_label=None):
    """Line-by-line transcription of Caffe 1.0's AccuracyLayer::Forward_cpu."""
    outer = int(np.prod(scores.shape[:axis]))
    num_labels = scores.shape[axis]
    inner = int(np.prod(scores.shape[axis + 1:]))
    data = scores.reshape(-1)
    label = labels.reshape(-1)
    dim = data.size // outer
    accuracy, count = 0, 0
    per_class = np.zeros(num_labels)
    nums = np.zeros(num_labels)
    for i in range(outer):
        for j in range(inner):
            label_value = int(label[i * inner + j])
            if ignore_label is not None and label_value == ignore_label:
                continue
            nums[label_value] += 1
            prob_of_true_class = data[i * dim + label_value * inner + j]
            num_better_predictions = -1  # true_class also counts as "better"
            k = 0
            while k < num_labels and num_better_predictions < top_k:
                num_better_predictions += data[i * dim + k * inner + j] >= prob_of_true_class
                k += 1
            if num_better_predictions < top_k:
                accuracy += 1
                per_class[label_value] += 1
            count += 1
    for c in range(num_labels):
        per_class[c] = 0 if nums[c] == 0 else per_class[c] / nums[c]
    return (0 if count == 0 else accuracy / count), per_class


def test_shapes():
    x = RNG.standard_normal((4, 5))
    _, _, top = run_layer('type: "Accuracy"', [x, RNG.integers(0, 5, 4)], n_top=2)
    assert top[0].shape == ()
    assert top[1].shape == (5,)


@pytest.mark.parametrize("top_k", [1, 2, 3])
def test_matches_torch_topk_without_ties(top_k):
    x = RNG.standard_normal((50, 6))
    labels = RNG.integers(0, 6, 50)
    _, _, top = run_layer(f'type: "Accuracy" accuracy_param {{ top_k: {top_k} }}', [x, labels])
    hits = (torch.topk(torch.from_numpy(x), top_k, dim=1).indices
            == torch.from_numpy(labels)[:, None]).any(dim=1)
    np.testing.assert_allclose(top[0].data, hits.double().mean().item(), rtol=1e-12)


@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_ties_follow_caffe(top_k):
    # small integer scores: many ties with the true class
    x = RNG.integers(0, 3, (40, 5, 2)).astype(np.float64)
    labels = RNG.integers(0, 5, (40, 2))
    _, _, top = run_layer(f'type: "Accuracy" accuracy_param {{ top_k: {top_k} }}',
                          [x, labels], n_top=2)
    acc, per_class = caffe_accuracy(x, labels, top_k)
    np.testing.assert_allclose(top[0].data, acc, rtol=1e-12)
    np.testing.assert_allclose(top[1].data, per_class, rtol=1e-12)


def test_tie_with_true_class_counts_against_it():
    x = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [2.0, 1.0, 1.0]])
    _, _, top1 = run_layer('type: "Accuracy"', [x, np.array([0, 1, 0])])
    assert top1[0].data == pytest.approx(1 / 3)  # only the clear winner counts
    _, _, top2 = run_layer('type: "Accuracy" accuracy_param { top_k: 2 }', [x, np.array([0, 1, 1])])
    # rows 0, 1: one other class ties -> within top 2; row 2: label 1 ties with class 2 and
    # class 0 is higher -> 2 classes >= it -> wrong
    assert top2[0].data == pytest.approx(2 / 3)


def test_spatial_axis_and_ignore_label_with_per_class():
    x = RNG.integers(0, 4, (3, 4, 2, 3)).astype(np.float64)
    labels = RNG.integers(0, 4, (3, 1, 2, 3))
    labels[0, 0, 1, 2] = labels[2, 0, 0, 0] = 255
    text = 'type: "Accuracy" accuracy_param { top_k: 2 ignore_label: 255 }'
    _, _, top = run_layer(text, [x, labels], n_top=2)
    acc, per_class = caffe_accuracy(x, labels, 2, ignore_label=255)
    np.testing.assert_allclose(top[0].data, acc, rtol=1e-12)
    np.testing.assert_allclose(top[1].data, per_class, rtol=1e-12)


def test_axis_param_last_axis():
    x = RNG.standard_normal((4, 3, 6))
    labels = RNG.integers(0, 6, (4, 3))
    _, _, top = run_layer('type: "Accuracy" accuracy_param { axis: -1 top_k: 2 }', [x, labels])
    moved = np.moveaxis(x, 2, 1)
    acc, _ = caffe_accuracy(moved, labels, 2)
    np.testing.assert_allclose(top[0].data, acc, rtol=1e-12)


def test_per_class_zero_for_absent_class_and_all_ignored_zero():
    x = np.eye(3)
    _, _, top = run_layer('type: "Accuracy"', [x, np.array([0, 0, 2])], n_top=2)
    np.testing.assert_allclose(top[1].data, [0.5, 0.0, 1.0])
    assert top[0].data == pytest.approx(2 / 3)
    _, _, top = run_layer('type: "Accuracy" accuracy_param { ignore_label: 1 }', [x, np.ones(3)])
    assert top[0].data == 0.0


def test_float32_forward():
    x = RNG.standard_normal((10, 4)).astype(np.float32)
    labels = RNG.integers(0, 4, 10)
    _, _, top = run_layer('type: "Accuracy"', [x, labels], dtype=np.float32)
    np.testing.assert_allclose(top[0].data, caffe_accuracy(x, labels, 1)[0], rtol=1e-6)


def test_top_k_larger_than_classes_rejected():
    with pytest.raises(ConfigError, match=r"top_k must be less than or equal to the number of classes"):
        run_layer('type: "Accuracy" accuracy_param { top_k: 4 }', [np.zeros((2, 3)), np.zeros(2)])


def test_top_k_zero_rejected():
    with pytest.raises(ConfigError, match=r"top_k must be at least 1"):
        run_layer('type: "Accuracy" accuracy_param { top_k: 0 }', [np.zeros((2, 3)), np.zeros(2)])


def test_label_count_mismatch_rejected():
    with pytest.raises(ShapeError, match="number of labels must match"):
        run_layer('type: "Accuracy"', [np.zeros((2, 3, 2)), np.zeros(2)])


def test_bad_label_rejected():
    with pytest.raises(DataError, match=r"layer 'accuracy' \(Accuracy\): bad label 3 at index \(1,\)"):
        run_layer('type: "Accuracy"', [np.zeros((2, 3)), np.array([0.0, 3.0])])


def test_no_backward():
    layer, bottom, top = run_layer('type: "Accuracy"', [np.zeros((2, 3)), np.zeros(2)])
    with pytest.raises(ConfigError, match="cannot backpropagate"):
        layer.backward(top, [True, False], bottom)
