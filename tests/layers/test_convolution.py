"""Convolution: shapes, forward/backward vs torch (2-D, 3-D, groups, dilation, stride, pad,
1x1, several batch blocks), an OpenCV dnn net check, float64 gradient checks, bad params."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import base_conv
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer, run_layer
import conv_checks
from conv_checks import (check_against_torch, check_gradient_params_only_and_second_bottom_only,
                         check_layer_gradient, setup_layer)

RNG = np.random.default_rng(1234)
FILLERS = 'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 }'
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


layout = conv_checks.layout   # the fixture: each column layout, col2im or flipped backward


def conv_text(params, fillers=FILLERS, name="conv"):
    return f'name: "{name}" type: "Convolution" convolution_param {{ {params} {fillers} }}'


def torch_conv(x, w, b, **kw):
    """torch forward and autograd gradients for dy (returns y, dx, dw, db)."""
    xt, wt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    bt = None if b is None else torch.from_numpy(b).requires_grad_()
    y = TORCH_CONV[x.ndim - 2](xt, wt, bt, **kw)
    return y, xt, wt, bt


# (caffe params, torch kwargs, input shape, num_output)
CASES = [
    ("kernel_size: 3", {}, (2, 3, 7, 6), 4),
    ("kernel_size: 3 stride: 2 pad: 1", dict(stride=2, padding=1), (2, 3, 8, 7), 5),
    ("kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0",
     dict(stride=(2, 1), padding=(1, 0)), (2, 2, 7, 6), 3),
    ("kernel_size: 3 dilation: 2 pad: 2", dict(dilation=2, padding=2), (2, 3, 7, 8), 4),
    ("kernel_size: 3 group: 2 dilation: 2 stride: 2 pad: 1",
     dict(groups=2, dilation=2, stride=2, padding=1), (3, 4, 9, 8), 6),
    ("kernel_size: 3 kernel_size: 2 dilation: 1 dilation: 2 stride: 1 stride: 2 pad: 0 pad: 1",
     dict(dilation=(1, 2), stride=(1, 2), padding=(0, 1)), (2, 2, 6, 7), 3),
    ("kernel_size: 1", {}, (2, 5, 4, 3), 3),                                  # 1x1 fast path
    ("kernel_size: 1 group: 3", dict(groups=3), (2, 6, 3, 4), 9),             # 1x1 with groups
    ("kernel_size: 1 stride: 2", dict(stride=2), (2, 3, 5, 5), 2),            # 1x1 but strided
    ("kernel_size: 2 stride: 1 pad: 1", dict(padding=1), (2, 3, 4, 5, 3), 4),  # 3-D
    ("kernel_size: 3 kernel_size: 2 kernel_size: 2 group: 2 dilation: 2 stride: 2 pad: 1",
     dict(groups=2, dilation=2, stride=2, padding=1), (2, 4, 6, 5, 6), 4),    # 3-D, groups
    ("kernel_size: 3 pad: 1 stride: 2", dict(padding=1, stride=2), (3, 2, 9), 4),  # 1-D
]


@pytest.mark.parametrize("params,kw,shape,num_output", CASES)
def test_forward_backward_match_torch(params, kw, shape, num_output, layout):
    x = RNG.standard_normal(shape)
    layer, bottom, top = setup_layer(conv_text(f"num_output: {num_output} {params}"), x)
    conv_checks.check_layout_in_use(layer, layout)
    check_against_torch(layer, bottom, top, x, TORCH_CONV[x.ndim - 2], RNG, **kw)


@pytest.mark.parametrize("budget,block", [(1, 1), (3 * 36 * 30, 3)])
def test_several_batch_blocks_match_torch(monkeypatch, budget, block, layout):
    """Small column budgets split the batch into blocks (with a remainder block)."""
    monkeypatch.setattr(base_conv, "COLUMN_BUDGET", budget)
    monkeypatch.setattr(base_conv, "WHOLE_BATCH_BUDGET", 0)
    x = RNG.standard_normal((7, 4, 6, 5))
    layer, bottom, top = setup_layer(conv_text("num_output: 4 kernel_size: 3 pad: 1 group: 2"), x)
    assert layer.block == block  # 36 column rows x 30 positions per image
    check_against_torch(layer, bottom, top, x, F.conv2d, RNG, padding=1, groups=2)


@pytest.mark.parametrize("params", ["kernel_size: 3 pad: 1", "kernel_size: 1"])
def test_backward_sees_bottom_changed_after_forward(layout, params):
    """Columns are reused from forward only while the bottom is unchanged (Caffe redoes im2col)."""
    x = RNG.standard_normal((3, 2, 5, 4))
    layer, bottom, top = setup_layer(conv_text(f"num_output: 3 {params}"), x)
    layer.forward(bottom, top)
    x2 = x + RNG.standard_normal(x.shape)
    bottom[0].data[...] = x2
    dy = RNG.standard_normal(top[0].shape)
    top[0].diff[...] = dy
    layer.backward(top, [False], bottom)
    pad = 1 if "pad" in params else 0
    y, _, wt, _ = torch_conv(x2, layer.blobs[0].data.copy(), layer.blobs[1].data.copy(), padding=pad)
    y.backward(torch.from_numpy(dy))
    np.testing.assert_allclose(layer.blobs[0].diff, wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_float32_forward_matches_torch():
    x = RNG.standard_normal((4, 3, 12, 11)).astype(np.float32)
    layer, bottom, top = setup_layer(conv_text("num_output: 8 kernel_size: 5 pad: 2"), x, dtype=np.float32)
    assert layer.blobs[0].dtype == np.float32
    layer.forward(bottom, top)
    assert top[0].data.dtype == np.float32
    y = F.conv2d(torch.from_numpy(x), torch.from_numpy(layer.blobs[0].data),
                 torch.from_numpy(layer.blobs[1].data), padding=2)
    np.testing.assert_allclose(top[0].data, y.numpy(), rtol=1e-4, atol=1e-5)


def test_shapes_axis_and_no_bias():
    # axis 2: the first two axes are both batch axes
    x = RNG.standard_normal((2, 3, 4, 6, 5))
    text = conv_text("num_output: 7 kernel_size: 3 axis: 2 bias_term: false",
                     fillers='weight_filler { type: "gaussian" std: 1 }')
    layer, bottom, top = setup_layer(text, x)
    assert len(layer.blobs) == 1 and layer.blobs[0].shape == (7, 4, 3, 3)
    layer.forward(bottom, top)
    assert top[0].shape == (2, 3, 7, 4, 3)
    y = F.conv2d(torch.from_numpy(x.reshape(6, 4, 6, 5)), torch.from_numpy(layer.blobs[0].data))
    np.testing.assert_allclose(top[0].data.reshape(6, 7, 4, 3), y.numpy(), rtol=1e-10, atol=1e-12)


def test_weight_shape_with_groups_and_3d():
    layer, _, top = setup_layer(conv_text("num_output: 6 kernel_size: 3 kernel_size: 1 kernel_size: 2 group: 3"),
                                RNG.standard_normal((1, 9, 5, 4, 6)))
    assert layer.blobs[0].shape == (6, 3, 3, 1, 2) and layer.blobs[1].shape == (6,)
    assert top[0].shape == (1, 6, 3, 4, 5)


def test_two_bottoms_share_weights_and_sum_param_diffs():
    x1, x2 = RNG.standard_normal((2, 2, 5, 5)), RNG.standard_normal((2, 2, 5, 5))
    layer, bottom, top = setup_layer(conv_text("num_output: 3 kernel_size: 3"), x1, x2)
    check_gradient(layer, bottom, top)
    layer.forward(bottom, top)
    w, b = torch.from_numpy(layer.blobs[0].data), torch.from_numpy(layer.blobs[1].data)
    for x, t in zip((x1, x2), top):
        np.testing.assert_allclose(t.data, F.conv2d(torch.from_numpy(x), w, b).numpy(), rtol=1e-10)


def test_param_diffs_accumulate_and_bottom_diff_is_overwritten():
    x = RNG.standard_normal((2, 3, 5, 5))
    layer, bottom, top = setup_layer(conv_text("num_output: 2 kernel_size: 3 pad: 1"), x)
    layer.forward(bottom, top)
    top[0].diff[...] = RNG.standard_normal(top[0].shape)
    bottom[0].diff[...] = 100.0
    layer.backward(top, [True], bottom)
    w1, b1, d1 = layer.blobs[0].diff.copy(), layer.blobs[1].diff.copy(), bottom[0].diff.copy()
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(layer.blobs[0].diff, 2 * w1)
    np.testing.assert_allclose(layer.blobs[1].diff, 2 * b1)
    np.testing.assert_allclose(bottom[0].diff, d1)


def test_propagate_down_false_and_frozen_params_leave_diffs_alone():
    x = RNG.standard_normal((2, 3, 5, 5))
    layer, bottom, top = setup_layer(conv_text("num_output: 2 kernel_size: 3"), x)
    layer.forward(bottom, top)
    top[0].diff[...] = 1.0
    bottom[0].diff[...] = 7.0
    layer.param_propagate_down = [False, True]
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 7.0) and np.all(layer.blobs[0].diff == 0)
    np.testing.assert_allclose(layer.blobs[1].diff, np.full(2, 2 * 3 * 3))


# ---- gradient checks (float64 finite differences) ------------------------------------
@pytest.mark.parametrize("params,shape", [
    ("num_output: 3 kernel_size: 3 stride: 2 pad: 1", (2, 2, 5, 6)),
    ("num_output: 4 kernel_size: 3 group: 2 dilation: 2 pad: 1", (2, 4, 6, 5)),
    ("num_output: 4 kernel_h: 2 kernel_w: 3 stride_h: 1 stride_w: 2 group: 2", (2, 2, 4, 6)),
    ("num_output: 4 kernel_size: 1 group: 2", (2, 4, 3, 3)),
    ("num_output: 2 kernel_size: 2 stride: 2 pad: 1 dilation: 1", (1, 2, 3, 4, 3)),
    ("num_output: 2 kernel_size: 2 group: 2 dilation: 2", (1, 2, 4, 3, 4)),
])
def test_gradient(params, shape):
    check_layer_gradient(conv_text(params), RNG.standard_normal(shape))


def test_gradient_groups_dilation_in_every_layout(layout):
    check_layer_gradient(conv_text("num_output: 4 kernel_size: 3 group: 2 dilation: 2 pad: 2"),
                         RNG.standard_normal((2, 4, 5, 4)))


def test_gradient_params_only_and_second_bottom_only():
    x = RNG.standard_normal((2, 2, 4, 4))
    check_gradient_params_only_and_second_bottom_only(conv_text("num_output: 2 kernel_size: 3 pad: 1"),
                                                      x, x * 0.5 + 1)


# ---- OpenCV dnn reads the same net from a caffemodel --------------------------------
DEPLOY = """
name: "convip"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 4 dim: 9 dim: 8 } } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "conv1" top: "ip1" inner_product_param { num_output: 5 } }
"""


def test_convolution_inner_product_net_matches_opencv_dnn(tmp_path):
    cv2 = pytest.importorskip("cv2")
    from google.protobuf import text_format

    from caffeine.proto import caffe_pb2
    x = RNG.standard_normal((2, 4, 9, 8)).astype(np.float32)
    conv = make_layer(conv_text("num_output: 6 kernel_size: 3 stride: 2 pad: 1 group: 2", name="conv1"))
    conv_top = empty_tops(1, np.float32)
    bottom = [blob_from(x, np.float32)]
    conv.layer_setup(bottom, conv_top)
    ip = make_layer('name: "ip1" type: "InnerProduct" inner_product_param { num_output: 5 '
                    'weight_filler { type: "gaussian" std: 0.3 } bias_filler { type: "gaussian" std: 0.3 } }')
    ip_top = empty_tops(1, np.float32)
    ip.layer_setup(conv_top, ip_top)
    conv.forward(bottom, conv_top)
    ip.forward(conv_top, ip_top)

    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text(DEPLOY)
    net = text_format.Parse(DEPLOY, caffe_pb2.NetParameter())
    for lp in net.layer:
        src = {"conv1": conv, "ip1": ip}.get(lp.name)
        if src is not None:
            for blob in src.blobs:
                blob.to_proto(proto=lp.blobs.add())
    model = tmp_path / "w.caffemodel"
    model.write_bytes(net.SerializeToString())

    cv_net = cv2.dnn.readNetFromCaffe(str(deploy), str(model))
    cv_net.setInput(x)
    expected = cv_net.forward("ip1")
    assert expected.shape == ip_top[0].shape == (2, 5)
    np.testing.assert_allclose(ip_top[0].data, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


# ---- bad parameters ------------------------------------------------------------------
@pytest.mark.parametrize("params,shape,match", [
    ("num_output: 4 kernel_size: 3 group: 2", (1, 3, 5, 5), "multiple of group"),
    ("num_output: 3 kernel_size: 3 group: 2", (1, 4, 5, 5), "multiples of group"),
    ("num_output: 0 kernel_size: 3", (1, 2, 5, 5), "num_output must be positive"),
    ("num_output: 2 kernel_size: 0", (1, 2, 5, 5), "filter dimensions must be nonzero"),
    ("num_output: 2", (1, 2, 5, 5), "kernel_size must be specified"),
    ("num_output: 2 kernel_size: 3 kernel_size: 3", (1, 2, 5, 5, 5), "kernel_size must be specified once"),
    ("num_output: 2 kernel_h: 3 kernel_w: 3", (1, 2, 5, 5, 5), "2D convolution"),
    ("num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3", (1, 2, 5, 5), "not both"),
    ("num_output: 2 kernel_size: 3 stride: 0", (1, 2, 5, 5), "stride dimensions must be nonzero"),
    ("num_output: 2 kernel_size: 3 dilation: 0", (1, 2, 5, 5), "dilation must be positive"),
    ("num_output: 2 kernel_size: 3 group: 0", (1, 2, 5, 5), "group must be positive"),
    ("num_output: 2 kernel_size: 3 axis: 4", (1, 2, 5, 5), "axis"),
])
def test_bad_parameters_rejected(params, shape, match):
    with pytest.raises(ConfigError, match=match) as info:
        setup_layer(conv_text(params), np.zeros(shape))
    assert info.value.layer == "conv"


def test_kernel_larger_than_padded_input_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"layer 'conv' \(Convolution\): kernel larger than padded input") as info:
        setup_layer(conv_text("num_output: 2 kernel_size: 3 dilation: 3 pad: 1"), np.zeros((1, 2, 8, 4)))
    assert "7" in str(info.value.expected) and "6" in str(info.value.found)


def test_reshape_rejects_changed_channels_and_axes():
    layer, bottom, top = setup_layer(conv_text("num_output: 2 kernel_size: 3"), np.zeros((1, 2, 5, 5)))
    bottom[0].reshape(1, 3, 5, 5)
    with pytest.raises(ShapeError, match="channel count changed"):
        layer.reshape(bottom, top)
    bottom[0].reshape(1, 2, 5, 5, 5)
    with pytest.raises(ShapeError, match="num_axes may not change"):
        layer.reshape(bottom, top)


def test_reshape_to_new_batch_and_size_recomputes_output():
    layer, bottom, top = setup_layer(conv_text("num_output: 2 kernel_size: 3 pad: 1 stride: 2"),
                                     RNG.standard_normal((1, 2, 5, 5)))
    x = RNG.standard_normal((3, 2, 8, 6))
    bottom[0].reshape(x.shape)
    bottom[0].data[...] = x
    layer.forward(bottom, top)
    y = F.conv2d(torch.from_numpy(x), torch.from_numpy(layer.blobs[0].data),
                 torch.from_numpy(layer.blobs[1].data), padding=1, stride=2)
    np.testing.assert_allclose(top[0].data, y.numpy(), rtol=1e-10, atol=1e-12)


def test_run_layer_default_fillers_give_zero_output():
    _, _, top = run_layer('type: "Convolution" convolution_param { num_output: 2 kernel_size: 2 }',
                          [RNG.standard_normal((1, 1, 3, 3))])
    assert top[0].shape == (1, 2, 2, 2) and np.all(top[0].data == 0)
