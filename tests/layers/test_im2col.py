"""Im2col layer and the conv_utils im2col/col2im: vs torch unfold/fold (2-D), vs a loop
transcription of Caffe's im2col_nd (3-D), adjointness, gradient checks, bad params."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import conv_utils
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(99)


def im2col_text(params):
    return f'name: "i2c" type: "Im2col" convolution_param {{ {params} }}'


def caffe_im2col_nd(image, kernel, pad, stride, dilation):
    """Caffe's im2col_nd_cpu for one image, element by element (the test's own oracle)."""
    channels, spatial = image.shape[0], image.shape[1:]
    out_shape = [(s + 2 * p - (d * (k - 1) + 1)) // st + 1
                 for s, k, p, st, d in zip(spatial, kernel, pad, stride, dilation)]
    cols = np.zeros((channels * int(np.prod(kernel)),) + tuple(out_shape))
    for row, (c, *koff) in enumerate(itertools.product(range(channels), *(range(k) for k in kernel))):
        for opos in itertools.product(*(range(o) for o in out_shape)):
            src = [o * st - p + ko * d for o, st, p, ko, d in zip(opos, stride, pad, koff, dilation)]
            if all(0 <= s < n for s, n in zip(src, spatial)):
                cols[(row,) + opos] = image[(c,) + tuple(src)]
    return cols


@pytest.mark.parametrize("params,kw", [
    ("kernel_size: 3", dict(kernel_size=3)),
    ("kernel_size: 3 stride: 2 pad: 1", dict(kernel_size=3, stride=2, padding=1)),
    ("kernel_size: 2 dilation: 2 pad: 2 stride: 3", dict(kernel_size=2, dilation=2, padding=2, stride=3)),
    ("kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 1 stride_w: 2",
     dict(kernel_size=(3, 2), padding=(1, 0), stride=(1, 2))),
])
def test_forward_backward_match_torch_unfold(params, kw):
    x = RNG.standard_normal((2, 3, 7, 6))
    layer = make_layer(im2col_text(params))
    bottom, top = blobs_from(x), empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    xt = torch.from_numpy(x).requires_grad_()
    cols = F.unfold(xt, **kw)
    assert top[0].shape[:2] == tuple(cols.shape[:2])
    np.testing.assert_array_equal(top[0].data.reshape(cols.shape), cols.detach().numpy())
    dy = RNG.standard_normal(top[0].shape)
    cols.backward(torch.from_numpy(dy.reshape(cols.shape)))
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff, xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_top_shape():
    _, _, top = run_layer(im2col_text("kernel_size: 3 stride: 2 pad: 1"), [np.zeros((2, 4, 9, 6))])
    assert top[0].shape == (2, 36, 5, 3)


def test_3d_matches_caffe_im2col_nd_transcription():
    x = RNG.standard_normal((2, 2, 4, 5, 3))
    kernel, pad, stride, dilation = (2, 3, 2), (1, 0, 1), (2, 1, 1), (1, 1, 2)
    _, _, top = run_layer(im2col_text("kernel_size: 2 kernel_size: 3 kernel_size: 2 pad: 1 pad: 0 pad: 1 "
                                      "stride: 2 stride: 1 stride: 1 dilation: 1 dilation: 1 dilation: 2"), [x])
    for n in range(2):
        np.testing.assert_array_equal(top[0].data[n], caffe_im2col_nd(x[n], kernel, pad, stride, dilation))


def test_col2im_is_adjoint_of_im2col_and_matches_torch_fold():
    x = RNG.standard_normal((2, 3, 6, 7))
    geom = dict(kernel=(3, 2), pad=(1, 2), stride=(2, 1), dilation=(1, 2))
    cols = conv_utils.im2col(x, **geom)
    c = RNG.standard_normal(cols.shape)
    back = conv_utils.col2im(c, x.shape, **geom)
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-12)
    fold = F.fold(torch.from_numpy(c.reshape(2, 18, -1)), (6, 7), kernel_size=(3, 2), padding=(1, 2),
                  stride=(2, 1), dilation=(1, 2))
    np.testing.assert_allclose(back, fold.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("params,shape", [
    ("kernel_size: 2 stride: 2 pad: 1", (2, 2, 4, 3)),
    ("kernel_size: 3 dilation: 2 pad: 1", (1, 2, 5, 5)),
    ("kernel_size: 2 pad: 1", (1, 2, 3, 2, 3)),
])
def test_gradient(params, shape):
    layer = make_layer(im2col_text(params))
    check_gradient(layer, blobs_from(RNG.standard_normal(shape)), empty_tops(1))


def test_channel_axis_with_leading_batch_axes():
    x = RNG.standard_normal((2, 3, 2, 5, 4))
    _, _, top = run_layer(im2col_text("kernel_size: 2 axis: 2"), [x])
    assert top[0].shape == (2, 3, 8, 4, 3)
    expected = F.unfold(torch.from_numpy(x.reshape(6, 2, 5, 4)), 2).numpy()
    np.testing.assert_array_equal(top[0].data.reshape(6, 8, 12), expected)


@pytest.mark.parametrize("params,shape,match", [
    ("kernel_h: 2 kernel_w: 2", (1, 2, 4, 4, 4), "2D convolution"),
    ("kernel_size: 0", (1, 2, 4, 4), "nonzero"),
    ("kernel_size: 2 stride: 1 stride: 1 stride: 1", (1, 2, 4, 4), "stride must be specified once"),
    ("kernel_size: 2 axis: 1", (3, 4), "at least one spatial axis"),
])
def test_bad_parameters_rejected(params, shape, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(im2col_text(params), [np.zeros(shape)])


def test_kernel_larger_than_padded_input():
    with pytest.raises(ShapeError, match="layer 'i2c' .*kernel larger than padded input"):
        run_layer(im2col_text("kernel_size: 5 pad: 1"), [np.zeros((1, 1, 2, 6))])
