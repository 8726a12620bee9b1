"""Deconvolution: shapes, forward/backward vs torch conv_transpose (groups, dilation, stride,
pad, 1x1, 3-D, batch blocks), float64 gradient checks, bad params."""
import numpy as np
import pytest
import torch.nn.functional as F

from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import base_conv
import conv_checks
from conv_checks import (check_gradient_params_only_and_second_bottom_only,
                         check_layer_gradient, setup_layer)

RNG = np.random.default_rng(4321)
FILLERS = 'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 }'
TORCH_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


layout = conv_checks.layout   # the fixture: each column layout, col2im or flipped backward


def deconv_text(params, fillers=FILLERS):
    return f'name: "up" type: "Deconvolution" convolution_param {{ {params} {fillers} }}'


def check_against_torch(layer, bottom, top, x, **kw):
    conv_checks.check_against_torch(layer, bottom, top, x, TORCH_DECONV[x.ndim - 2], RNG, **kw)


CASES = [
    ("kernel_size: 3", {}, (2, 3, 4, 5), 4),
    ("kernel_size: 4 stride: 2 pad: 1", dict(stride=2, padding=1), (2, 3, 4, 3), 2),
    ("kernel_size: 3 group: 2 dilation: 2 stride: 2 pad: 1",
     dict(groups=2, dilation=2, stride=2, padding=1), (3, 4, 5, 4), 6),
    ("kernel_h: 2 kernel_w: 3 stride_h: 2 stride_w: 1 pad_h: 0 pad_w: 1",
     dict(stride=(2, 1), padding=(0, 1)), (2, 2, 3, 4), 3),
    ("kernel_size: 1", {}, (2, 4, 3, 3), 5),                               # 1x1 fast path
    ("kernel_size: 1 group: 2", dict(groups=2), (2, 4, 3, 2), 6),
    ("kernel_size: 2 stride: 2", dict(stride=2), (2, 3, 3, 2, 4), 2),       # 3-D
    ("kernel_size: 3 group: 2 dilation: 2 stride: 2 pad: 2",
     dict(groups=2, dilation=2, stride=2, padding=2), (1, 2, 3, 4, 3), 4),  # 3-D, groups
]


@pytest.mark.parametrize("params,kw,shape,num_output", CASES)
def test_forward_backward_match_torch(params, kw, shape, num_output, layout):
    x = RNG.standard_normal(shape)
    layer, bottom, top = setup_layer(deconv_text(f"num_output: {num_output} {params}"), x)
    conv_checks.check_layout_in_use(layer, layout)
    check_against_torch(layer, bottom, top, x, **kw)


def test_several_batch_blocks_match_torch(monkeypatch, layout):
    monkeypatch.setattr(base_conv, "COLUMN_BUDGET", 2 * 4 * 9 * 12)  # two images per block
    monkeypatch.setattr(base_conv, "WHOLE_BATCH_BUDGET", 0)
    x = RNG.standard_normal((5, 4, 4, 3))
    layer, bottom, top = setup_layer(deconv_text("num_output: 4 kernel_size: 3 stride: 2 pad: 1 group: 2"), x)
    assert layer.block == 2
    check_against_torch(layer, bottom, top, x, stride=2, padding=1, groups=2)


def test_weight_shape_is_channels_by_outputs_per_group():
    layer, _, top = setup_layer(deconv_text("num_output: 6 kernel_size: 4 stride: 2 pad: 1 group: 2"),
                                np.zeros((1, 4, 5, 5)))
    assert layer.blobs[0].shape == (4, 3, 4, 4) and layer.blobs[1].shape == (6,)
    assert top[0].shape == (1, 6, 10, 10)


def test_bilinear_upsampling_keeps_constant_images_constant():
    """FCN-style x2 upsampling: bilinear weights, group = channels, no bias."""
    x = np.full((1, 3, 4, 4), 2.0)
    text = ('name: "up" type: "Deconvolution" convolution_param { num_output: 3 group: 3 kernel_size: 4 '
            'stride: 2 pad: 1 bias_term: false weight_filler { type: "bilinear" } }')
    layer, bottom, top = setup_layer(text, x)
    layer.forward(bottom, top)
    assert top[0].shape == (1, 3, 8, 8)
    np.testing.assert_allclose(top[0].data[:, :, 1:-1, 1:-1], 2.0, rtol=1e-12)


@pytest.mark.parametrize("params,shape", [
    ("num_output: 3 kernel_size: 3 stride: 2 pad: 1", (2, 2, 3, 4)),
    ("num_output: 4 kernel_size: 3 group: 2 dilation: 2 pad: 1", (2, 4, 3, 3)),
    ("num_output: 4 kernel_size: 1 group: 2", (2, 2, 3, 3)),
    ("num_output: 2 kernel_size: 2 stride: 2 pad: 1", (1, 2, 2, 3, 2)),
])
def test_gradient(params, shape):
    check_layer_gradient(deconv_text(params), RNG.standard_normal(shape))


def test_gradient_groups_dilation_in_every_layout(layout):
    check_layer_gradient(deconv_text("num_output: 4 kernel_size: 3 group: 2 dilation: 2 pad: 1"),
                         RNG.standard_normal((2, 2, 3, 3)))


def test_gradient_params_only_and_second_bottom_only():
    x = RNG.standard_normal((2, 2, 3, 3))
    check_gradient_params_only_and_second_bottom_only(deconv_text("num_output: 2 kernel_size: 3 stride: 2"),
                                                      x, x - 0.5)


def test_param_diffs_accumulate():
    layer, bottom, top = setup_layer(deconv_text("num_output: 2 kernel_size: 2 stride: 2"),
                                     RNG.standard_normal((2, 3, 3, 3)))
    layer.forward(bottom, top)
    top[0].diff[...] = RNG.standard_normal(top[0].shape)
    layer.backward(top, [False], bottom)
    w1 = layer.blobs[0].diff.copy()
    assert np.any(w1 != 0)
    layer.backward(top, [False], bottom)
    np.testing.assert_allclose(layer.blobs[0].diff, 2 * w1)


@pytest.mark.parametrize("params,shape,match", [
    ("num_output: 3 kernel_size: 3 group: 2", (1, 4, 5, 5), "multiples of group"),
    ("num_output: 4 kernel_size: 3 group: 2", (1, 3, 5, 5), "multiple of group"),
    ("num_output: 2 kernel_size: 3 stride: 0", (1, 2, 5, 5), "stride"),
    ("num_output: 2 pad: 1 pad: 1 pad: 1 kernel_size: 3", (1, 2, 5, 5), "pad must be specified once"),
])
def test_bad_parameters_rejected(params, shape, match):
    with pytest.raises(ConfigError, match=match):
        setup_layer(deconv_text(params), np.zeros(shape))


def test_padding_that_empties_the_output_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"layer 'up' \(Deconvolution\): padding removes the whole output"):
        setup_layer(deconv_text("num_output: 2 kernel_size: 2 pad: 1"), np.zeros((1, 2, 1, 3)))
