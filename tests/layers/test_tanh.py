"""TanH: forward vs torch, gradients (finite differences and autograd), in place."""
import numpy as np
import pytest
import torch

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(12)
TEXT = 'type: "TanH"'


def test_forward_matches_torch_float32():
    x = (RNG.standard_normal((2, 3, 4, 5)) * 4).astype(np.float32)
    _, _, top = run_layer(TEXT, [x], dtype=np.float32)
    assert top[0].shape == x.shape
    np.testing.assert_allclose(top[0].data, torch.tanh(torch.from_numpy(x)).numpy(), rtol=1e-6, atol=1e-7)


def test_extreme_inputs_saturate_without_overflow():
    x = np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32)
    _, _, top = run_layer(TEXT, [x], dtype=np.float32)
    np.testing.assert_allclose(top[0].data, [-1.0, -1.0, 0.0, 1.0, 1.0], atol=1e-30)


def test_gradient():
    check_gradient(make_layer(TEXT), blobs_from(RNG.standard_normal((2, 3, 2, 2))), empty_tops(1))


def test_in_place_gradient():
    b = blob_from(RNG.standard_normal((2, 3, 2, 2)))
    check_gradient(make_layer(TEXT), [b], [b])


@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd(inplace):
    x = RNG.standard_normal((3, 4)) * 3
    dy = RNG.standard_normal(x.shape)
    layer = make_layer(TEXT)
    b = blob_from(x)
    t = b if inplace else empty_tops(1)[0]
    layer.layer_setup([b], [t])
    layer.forward([b], [t])
    t.diff[...] = dy
    layer.backward([t], [True], [b])
    xt = torch.from_numpy(x).requires_grad_()
    torch.tanh(xt).backward(torch.from_numpy(dy))
    np.testing.assert_allclose(b.diff, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_propagate_down_false_leaves_bottom_diff():
    layer, bottom, top = run_layer(TEXT, [RNG.standard_normal((3, 3))])
    bottom[0].diff[...] = 7.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0)
