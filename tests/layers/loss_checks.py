"""Checks shared by the loss layer tests (bottom 0 the predictions, the other bottoms labels
or weights that take no gradient): finite differences, and loss_weight against torch autograd.
The oracle (a torch expression of the weighted loss) stays in each test."""
import numpy as np
import torch

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer


def setup_loss(text, arrays, n_top=1):
    """(layer, bottom, top): the layer set up on blobs of `arrays` and `n_top` empty tops."""
    layer = make_layer(text)
    bottom = blobs_from(*arrays)
    top = empty_tops(n_top)
    layer.layer_setup(bottom, top)
    return layer, bottom, top


def check_loss_gradient(text, arrays, n_top=1, **kwargs):
    """Finite-difference check of the loss (top 0) with respect to the predictions (bottom 0)."""
    layer, bottom, top = setup_loss(text, arrays, n_top)
    check_gradient(layer, bottom, top, check_bottom=[0], top_ids=[0], **kwargs)


def check_weighted_loss_against_torch(text, arrays, weighted_loss, rtol=1e-12, atol=0.0):
    """Forward (the weighted loss) and backward (the predictions' diff) of a layer whose `text`
    sets loss_weight, against `weighted_loss(xt)`: the oracle's weighted loss as a torch
    scalar of the predictions tensor xt, differentiated by autograd.  rtol/atol: the diff's."""
    layer, bottom, top = setup_loss(text, arrays)
    weighted = layer.forward(bottom, top)
    xt = torch.from_numpy(arrays[0]).requires_grad_()
    ref = weighted_loss(xt)
    ref.backward()
    np.testing.assert_allclose(weighted, ref.item(), rtol=1e-12)
    layer.backward(top, [True] + [False] * (len(bottom) - 1), bottom)
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=rtol, atol=atol)
