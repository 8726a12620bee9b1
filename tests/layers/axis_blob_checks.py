"""Checks shared by the Bias and Scale tests.  Both layers combine bottom[0] with a blob (a
second bottom, or a learned blob when there is one bottom) that spans bottom[0]'s axes
axis .. axis + len(shape) - 1 and is broadcast over the others (Caffe's axis/num_axes)."""
import numpy as np
import torch

from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer


def broadcast_view(ndim, axis, shape):
    """The shape that lines a blob of `shape` up with axes axis.. of an ndim-axis bottom."""
    return (1,) * axis + tuple(shape) + (1,) * (ndim - axis - len(shape))


def check_learned_blob_forward(text, x, axis, shape, torch_op):
    """One bottom x: the learned blob has `shape`, and the top is torch_op(x, blob lined up at axis)."""
    layer = make_layer(text)
    bottom, top = blobs_from(x), empty_tops(1)
    layer.layer_setup(bottom, top)
    assert layer.blobs[0].shape == shape
    layer.forward(bottom, top)
    blob = torch.from_numpy(layer.blobs[0].data.copy()).reshape(broadcast_view(x.ndim, axis, shape))
    np.testing.assert_allclose(top[0].data, torch_op(torch.from_numpy(x), blob).numpy(), rtol=1e-12)


def check_gradient_maybe_in_place(text, arrays, in_place):
    """Finite-difference check on bottoms made from `arrays`; in place: the top is bottom[0]."""
    layer = make_layer(text)
    bottom = blobs_from(*arrays)
    check_gradient(layer, bottom, [bottom[0]] if in_place else empty_tops(1))
