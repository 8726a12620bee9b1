"""ELU: forward vs torch, gradients (finite differences and autograd), in place."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(16)


def elu_text(alpha):
    return f'type: "ELU" elu_param {{ alpha: {alpha} }}'


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.5])
def test_forward_matches_torch(alpha):
    x = (RNG.standard_normal((2, 3, 4, 5)) * 2).astype(np.float32)
    _, _, top = run_layer(elu_text(alpha), [x], dtype=np.float32)
    assert top[0].shape == x.shape
    np.testing.assert_allclose(top[0].data, F.elu(torch.from_numpy(x), alpha).numpy(), rtol=1e-6, atol=1e-7)


def test_default_alpha_is_one():
    x = RNG.standard_normal((3, 4))
    _, _, top = run_layer('type: "ELU"', [x])
    np.testing.assert_allclose(top[0].data, np.where(x > 0, x, np.exp(x) - 1), rtol=1e-12)


@pytest.mark.parametrize("alpha", [1.0, 0.0, -0.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_gradient(alpha, inplace):
    x = RNG.standard_normal((2, 3, 2, 2))
    layer = make_layer(elu_text(alpha))
    if inplace:
        b = blob_from(x)
        check_gradient(layer, [b], [b], kink=0.0, kink_range=0.01)
    else:
        check_gradient(layer, blobs_from(x), empty_tops(1), kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("alpha", [1.0, 0.25, -0.5])
@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(alpha, inplace):
    x = RNG.standard_normal((4, 5))
    dy = RNG.standard_normal(x.shape)
    layer = make_layer(elu_text(alpha))
    b = blob_from(x)
    t = b if inplace else empty_tops(1)[0]
    layer.layer_setup([b], [t])
    layer.forward([b], [t])
    t.diff[...] = dy
    layer.backward([t], [True], [b])
    xt = torch.from_numpy(x).requires_grad_()
    # torch's elu gradient for x <= 0 is alpha * exp(x), Caffe's (alpha + y): the same value
    F.elu(xt, alpha).backward(torch.from_numpy(dy))
    np.testing.assert_allclose(b.diff, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
