"""Embed: shapes, forward/backward vs torch embedding, float64 gradient checks (params only),
repeated indices, bad indices and params."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, DataError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer

RNG = np.random.default_rng(77)
FILLERS = 'weight_filler { type: "uniform" min: -1 max: 1 } bias_filler { type: "uniform" min: -1 max: 1 }'


def embed_text(params, fillers=FILLERS):
    return f'name: "emb" type: "Embed" embed_param {{ {params} {fillers} }}'


def setup_layer(text, idx, dtype=np.float64):
    layer = make_layer(text)
    bottom, top = blobs_from(np.asarray(idx, dtype=float), dtype=dtype), empty_tops(1, dtype=dtype)
    layer.layer_setup(bottom, top)
    return layer, bottom, top


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_backward_match_torch(dtype):
    idx = np.array([[0, 3, 3, 9], [2, 2, 2, 5], [9, 0, 1, 3]])  # repeats: their gradients add up
    layer, bottom, top = setup_layer(embed_text("num_output: 4 input_dim: 10"), idx, dtype)
    assert layer.blobs[0].shape == (10, 4) and layer.blobs[1].shape == (4,)
    layer.forward(bottom, top)
    assert top[0].shape == (3, 4, 4) and top[0].data.dtype == dtype
    wt = torch.from_numpy(layer.blobs[0].data.copy()).requires_grad_()
    bt = torch.from_numpy(layer.blobs[1].data.copy()).requires_grad_()
    y = F.embedding(torch.from_numpy(idx), wt) + bt
    np.testing.assert_allclose(top[0].data, y.detach().numpy(), rtol=1e-6)
    dy = RNG.standard_normal(y.shape).astype(dtype)
    y.backward(torch.from_numpy(dy))
    top[0].diff[...] = dy
    layer.backward(top, [False], bottom)
    np.testing.assert_allclose(layer.blobs[0].diff, wt.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.blobs[1].diff, bt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_gradient_of_params():
    layer, bottom, top = setup_layer(embed_text("num_output: 3 input_dim: 5"), [[1, 4, 1], [0, 2, 4]])
    check_gradient(layer, bottom, top, check_bottom=[])


def test_gradient_without_bias():
    layer, bottom, top = setup_layer(embed_text("num_output: 2 input_dim: 4 bias_term: false",
                                                'weight_filler { type: "gaussian" std: 1 }'), [3, 3, 0])
    assert len(layer.blobs) == 1
    check_gradient(layer, bottom, top, check_bottom=[])


def test_weight_diff_accumulates():
    layer, bottom, top = setup_layer(embed_text("num_output: 2 input_dim: 3"), [0, 2, 2])
    layer.forward(bottom, top)
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    layer.backward(top, [False], bottom)
    np.testing.assert_array_equal(layer.blobs[0].diff, [[2, 2], [0, 0], [4, 4]])
    np.testing.assert_array_equal(layer.blobs[1].diff, [6, 6])


def test_no_backward_to_indices():
    layer, bottom, top = setup_layer(embed_text("num_output: 2 input_dim: 3"), [0, 1])
    assert not layer.allow_force_backward(0)
    layer.forward(bottom, top)
    with pytest.raises(ConfigError, match="backpropagate to Embed input"):
        layer.backward(top, [True], bottom)


@pytest.mark.parametrize("idx", [[0, 1.5], [0, 3], [-1, 0], [np.nan, 1], [1e30, 0]])
def test_bad_indices_are_data_errors(idx):
    layer, bottom, top = setup_layer(embed_text("num_output: 2 input_dim: 3"), idx)
    with pytest.raises(DataError, match="layer 'emb'.*integer indices below input_dim"):
        layer.forward(bottom, top)


@pytest.mark.parametrize("params,match", [
    ("num_output: 0 input_dim: 3", "num_output must be positive"),
    ("num_output: 2", "input_dim must be positive"),
])
def test_bad_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        setup_layer(embed_text(params), [0])
