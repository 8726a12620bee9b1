"""AbsVal: forward vs torch, gradients (finite differences and autograd), in place via a copy."""
import numpy as np
import pytest
import torch

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(13)
TEXT = 'type: "AbsVal"'


def test_forward_matches_torch():
    x = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    _, _, top = run_layer(TEXT, [x], dtype=np.float32)
    assert top[0].shape == x.shape
    np.testing.assert_array_equal(top[0].data, torch.abs(torch.from_numpy(x)).numpy())


def test_gradient():
    check_gradient(make_layer(TEXT), blobs_from(RNG.standard_normal((2, 3, 4))), empty_tops(1),
                   kink=0.0, kink_range=0.01)


def test_in_place_gradient():
    b = blob_from(RNG.standard_normal((2, 3, 4)))
    check_gradient(make_layer(TEXT), [b], [b], kink=0.0, kink_range=0.01)


@pytest.mark.parametrize("inplace", [False, True])
def test_backward_matches_torch_autograd_and_sign_at_zero(inplace):
    x = RNG.standard_normal((3, 4))
    x[0, 0] = 0.0  # Caffe's sign(0) = 0, as torch's abs gradient
    dy = RNG.standard_normal(x.shape)
    layer = make_layer(TEXT)
    b = blob_from(x)
    t = b if inplace else empty_tops(1)[0]
    layer.layer_setup([b], [t])
    layer.forward([b], [t])
    t.diff[...] = dy
    layer.backward([t], [True], [b])
    xt = torch.from_numpy(x).requires_grad_()
    torch.abs(xt).backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(b.diff, xt.grad.numpy())
    assert b.diff[0, 0] == 0.0


def test_propagate_down_false_leaves_bottom_diff():
    layer, bottom, top = run_layer(TEXT, [RNG.standard_normal((3, 3))])
    bottom[0].diff[...] = 7.0
    top[0].diff[...] = 1.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0)
