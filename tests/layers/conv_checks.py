"""Helpers shared by the Convolution and Deconvolution tests: the column-layout fixture,
float64 layer setup, the forward/backward comparison with torch, and gradient checks."""
import numpy as np
import pytest
import torch

from caffeine.layers import base_conv
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer


@pytest.fixture(params=["batch_last", "batch_major", "batch_last/flipped", "batch_major/flipped"])
def layout(request, monkeypatch):
    """Run a test with each column order of conv_utils.BlockColumns, and with the
    backward-data pass done by col2im or (where stride is 1) as a flipped convolution."""
    order, _, flipped = request.param.partition("/")
    monkeypatch.setattr(base_conv, "BATCH_LAST_MAX_GRID", 10**9 if order == "batch_last" else 0)
    monkeypatch.setattr(base_conv, "TRANSPOSED_BACKWARD", bool(flipped))
    return request.param


def setup_layer(text, *arrays, dtype=np.float64):
    """The layer set up on one bottom (and one top) per array."""
    layer = make_layer(text)
    bottom = blobs_from(*arrays, dtype=dtype)
    top = empty_tops(len(arrays), dtype=dtype)
    layer.layer_setup(bottom, top)
    return layer, bottom, top


def check_layout_in_use(layer, layout):
    """The layout fixture's column order (and flipped backward, where stride is 1) is the one used."""
    assert layer.is_1x1 or layer.columns.batch_last == layout.startswith("batch_last")
    if not layer.is_1x1 and set(layer.stride) == {1}:
        assert (layer.transposed_columns is not None) == layout.endswith("flipped")


def check_against_torch(layer, bottom, top, x, torch_op, rng, **kw):
    """Forward on x and backward of a random top diff (drawn from rng) against torch_op(x, w, b, **kw)
    and its autograd: top data, bottom diff, weight diff and bias diff."""
    w, b = layer.blobs[0].data.copy(), layer.blobs[1].data.copy()
    layer.forward(bottom, top)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = torch_op(xt, wt, bt, **kw)
    assert top[0].shape == tuple(y.shape)
    np.testing.assert_allclose(top[0].data, y.detach().numpy(), rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    y.backward(torch.from_numpy(dy))
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.blobs[0].diff, wt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.blobs[1].diff, bt.grad.numpy(), rtol=1e-10, atol=1e-12)


def check_layer_gradient(text, *arrays, **kwargs):
    """float64 finite-difference check of the layer set up on the arrays."""
    layer, bottom, top = setup_layer(text, *arrays)
    check_gradient(layer, bottom, top, **kwargs)


def check_gradient_params_only_and_second_bottom_only(text, x1, x2):
    """Two bottoms: the params' gradients alone, then the second bottom's alone."""
    check_layer_gradient(text, x1, x2, check_bottom=[])
    check_layer_gradient(text, x1, x2, check_bottom=[1])
