"""InfogainLoss: numpy transcription of Caffe 1.0, H from a bottom or a binaryproto, gradients."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, DataError, ShapeError, WeightsError
from caffeine.proto import caffe_pb2
from caffeine.testing.layer_helpers import run_layer
from loss_checks import check_loss_gradient, check_weighted_loss_against_torch

RNG = np.random.default_rng(29)


def caffe_infogain(x, labels, H, axis=1, ignore_label=None, mode="VALID"):
    """Transcription of InfogainLossLayer::Forward_cpu (softmax first, log floor 1e-20)."""
    outer = int(np.prod(x.shape[:axis]))
    num_labels = x.shape[axis]
    inner = int(np.prod(x.shape[axis + 1:]))
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    prob = (e / e.sum(axis=axis, keepdims=True)).reshape(-1)
    label = labels.reshape(-1)
    Hf = H.reshape(-1)
    loss, count = 0.0, 0
    for i in range(outer):
        for j in range(inner):
            v = int(label[i * inner + j])
            if ignore_label is not None and v == ignore_label:
                continue
            for l in range(num_labels):
                p = prob[i * inner * num_labels + l * inner + j]
                loss -= Hf[v * num_labels + l] * np.log(max(p, 1e-20))
            count += 1
    normalizer = {"FULL": outer * inner, "VALID": count, "BATCH_SIZE": outer, "NONE": 1}[mode]
    return loss / max(1.0, normalizer)


def infogain_matrix(c):
    return RNG.uniform(0, 1, (c, c)) + np.eye(c)


def write_binaryproto(path, H, legacy=True):
    proto = caffe_pb2.BlobProto()
    if legacy:
        proto.num, proto.channels, proto.height, proto.width = 1, 1, *H.shape
    else:
        proto.shape.dim.extend(H.shape)
    proto.data.extend(H.reshape(-1).astype(np.float32))
    path.write_bytes(proto.SerializeToString())
    return path


def test_shapes_with_prob_top():
    x = RNG.standard_normal((2, 3, 2))
    labels = RNG.integers(0, 3, (2, 2))
    _, _, top = run_layer('type: "InfogainLoss"', [x, labels, infogain_matrix(3)], n_top=2)
    assert top[0].shape == ()
    assert top[1].shape == x.shape
    np.testing.assert_allclose(top[1].data, F.softmax(torch.from_numpy(x), 1).numpy(), rtol=1e-12)


def test_identity_matrix_is_softmax_cross_entropy():
    x = RNG.standard_normal((5, 4)) * 2
    labels = RNG.integers(0, 4, 5)
    _, _, top = run_layer('type: "InfogainLoss"', [x, labels, np.eye(4)])
    expected = F.cross_entropy(torch.from_numpy(x), torch.from_numpy(labels)).item()
    np.testing.assert_allclose(top[0].data, expected, rtol=1e-12)


def test_log_floor_is_1e_minus_20():
    # prob of class 1 underflows to 0: Caffe floors it at kLOG_THRESHOLD before the log
    x = np.array([[0.0, -1e4]])
    H = np.array([[0.0, 1.0], [0.0, 0.0]])
    _, _, top = run_layer('type: "InfogainLoss"', [x, np.array([0.0]), H])
    np.testing.assert_allclose(top[0].data, -np.log(1e-20), rtol=1e-12)


@pytest.mark.parametrize("mode", ["VALID", "FULL", "BATCH_SIZE", "NONE"])
def test_forward_matches_caffe_with_ignore_label(mode):
    x = RNG.standard_normal((2, 4, 3)) * 2
    labels = RNG.integers(0, 4, (2, 3))
    labels[0, 1] = labels[1, 2] = 7
    H = infogain_matrix(4)
    text = f'type: "InfogainLoss" loss_param {{ ignore_label: 7 normalization: {mode} }}'
    _, _, top = run_layer(text, [x, labels, H])
    np.testing.assert_allclose(top[0].data, caffe_infogain(x, labels, H, 1, 7, mode), rtol=1e-12)


def test_axis_param():
    x = RNG.standard_normal((2, 3, 5))
    labels = RNG.integers(0, 5, (2, 3))
    H = infogain_matrix(5)
    _, _, top = run_layer('type: "InfogainLoss" infogain_loss_param { axis: 2 }', [x, labels, H])
    np.testing.assert_allclose(top[0].data, caffe_infogain(x, labels, H, axis=2), rtol=1e-12)


@pytest.mark.parametrize("legacy", [True, False])
def test_matrix_from_binaryproto_source(tmp_path, legacy):
    H = infogain_matrix(3).astype(np.float32).astype(np.float64)
    path = write_binaryproto(tmp_path / "H.binaryproto", H, legacy)
    x = RNG.standard_normal((4, 3))
    labels = RNG.integers(0, 3, 4)
    _, _, top = run_layer(f'type: "InfogainLoss" infogain_loss_param {{ source: "{path}" }}',
                          [x, labels])
    np.testing.assert_allclose(top[0].data, caffe_infogain(x, labels, H), rtol=1e-12)


def test_gradient_with_matrix_bottom_and_ignore():
    x = RNG.standard_normal((2, 4, 2, 2))
    labels = RNG.integers(0, 4, (2, 1, 2, 2))
    labels[1, 0, 0, 1] = -1
    check_loss_gradient('type: "InfogainLoss" loss_param { ignore_label: -1 }',
                        [x, labels, infogain_matrix(4)], n_top=2)


def test_gradient_with_source_and_full_normalization(tmp_path):
    H = infogain_matrix(3)
    path = write_binaryproto(tmp_path / "H.binaryproto", H)
    x = RNG.standard_normal((3, 3))
    labels = RNG.integers(0, 3, 3)
    check_loss_gradient(f'type: "InfogainLoss" infogain_loss_param {{ source: "{path}" }} '
                        'loss_param { normalization: FULL }', [x, labels])


def test_loss_weight_scales_gradient_like_torch_autograd():
    x = RNG.standard_normal((5, 4))
    labels = RNG.integers(0, 4, 5)
    H = infogain_matrix(4)
    rows = torch.from_numpy(H)[torch.from_numpy(labels)]
    check_weighted_loss_against_torch(
        'type: "InfogainLoss" loss_weight: 2.5', [x, labels, H],
        lambda xt: -2.5 * (rows * F.log_softmax(xt, dim=1)).sum() / 5, rtol=1e-10, atol=1e-15)


def test_missing_source_rejected():
    with pytest.raises(ConfigError, match=r"\(InfogainLoss\): infogain matrix source must be specified"):
        run_layer('type: "InfogainLoss"', [np.zeros((2, 3)), np.zeros(2)])


def test_unreadable_source_rejected(tmp_path):
    with pytest.raises(WeightsError, match=r"nope.binaryproto.*No such file"):
        run_layer(f'type: "InfogainLoss" infogain_loss_param {{ source: "{tmp_path}/nope.binaryproto" }}',
                  [np.zeros((2, 3)), np.zeros(2)])


def test_wrong_matrix_size_rejected(tmp_path):
    path = write_binaryproto(tmp_path / "H.binaryproto", np.eye(2))
    with pytest.raises(ShapeError, match=r"infogain matrix H must be 3x3.*expected 9, found 4"):
        run_layer(f'type: "InfogainLoss" infogain_loss_param {{ source: "{path}" }}',
                  [np.zeros((2, 3)), np.zeros(2)])
    with pytest.raises(ShapeError, match=r"infogain matrix H must be 3x3"):
        run_layer('type: "InfogainLoss"', [np.zeros((2, 3)), np.zeros(2), np.eye(2)])


def test_legacy_normalize_rejected():
    with pytest.raises(ConfigError, match=r"normalize is deprecated for InfogainLoss"):
        run_layer('type: "InfogainLoss" loss_param { normalize: true }',
                  [np.zeros((2, 3)), np.zeros(2), np.eye(3)])


def test_bad_label_rejected():
    with pytest.raises(DataError, match=r"\(InfogainLoss\): bad label 3 at index \(1,\)"):
        run_layer('type: "InfogainLoss"', [np.zeros((2, 3)), np.array([0.0, 3.0]), np.eye(3)])


def test_backprop_to_labels_or_matrix_rejected():
    layer, bottom, top = run_layer('type: "InfogainLoss"', [np.zeros((2, 3)), np.zeros(2), np.eye(3)])
    with pytest.raises(ConfigError, match="cannot backpropagate to label inputs"):
        layer.backward(top, [True, True, False], bottom)
    with pytest.raises(ConfigError, match="cannot backpropagate to infogain inputs"):
        layer.backward(top, [True, False, True], bottom)
    assert not layer.allow_force_backward(2)
