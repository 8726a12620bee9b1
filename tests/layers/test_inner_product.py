"""InnerProduct: shapes, forward/backward vs torch linear (axis, transpose, no bias),
float64 gradient checks, accumulation, bad params."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from caffeine.errors import ConfigError, ShapeError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer

RNG = np.random.default_rng(555)
FILLERS = 'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 }'


def ip_text(params, fillers=FILLERS):
    return f'name: "fc" type: "InnerProduct" inner_product_param {{ {params} {fillers} }}'


def setup_layer(text, x, dtype=np.float64):
    layer = make_layer(text)
    bottom, top = blobs_from(x, dtype=dtype), empty_tops(1, dtype=dtype)
    layer.layer_setup(bottom, top)
    return layer, bottom, top


@pytest.mark.parametrize("params,shape,axis", [
    ("num_output: 5", (4, 3, 2, 2), 1),
    ("num_output: 5 axis: 2", (2, 3, 4, 2), 2),
    ("num_output: 3 axis: -1", (2, 3, 4), 2),
    ("num_output: 4 transpose: true", (3, 6), 1),
    ("num_output: 4 transpose: true axis: 0", (3, 2), 0),
])
def test_forward_backward_match_torch(params, shape, axis):
    x = RNG.standard_normal(shape)
    layer, bottom, top = setup_layer(ip_text(params), x)
    transpose = "transpose: true" in params
    w = layer.blobs[0].data.copy()
    K = int(np.prod(shape[axis:]))
    assert w.shape == ((K, layer.N) if transpose else (layer.N, K))
    layer.forward(bottom, top)
    xt = torch.from_numpy(x.reshape(int(np.prod(shape[:axis])), K)).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(layer.blobs[1].data.copy()).requires_grad_()
    y = F.linear(xt, wt.T if transpose else wt, bt)
    assert top[0].shape == tuple(shape[:axis]) + (layer.N,)
    np.testing.assert_allclose(top[0].data.reshape(y.shape), y.detach().numpy(), rtol=1e-12, atol=1e-14)
    dy = RNG.standard_normal(top[0].shape)
    y.backward(torch.from_numpy(dy.reshape(y.shape)))
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    np.testing.assert_allclose(bottom[0].diff.reshape(xt.shape), xt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.blobs[0].diff, wt.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.blobs[1].diff, bt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_float32_no_bias():
    x = RNG.standard_normal((8, 20)).astype(np.float32)
    layer, bottom, top = setup_layer(ip_text("num_output: 10 bias_term: false",
                                             'weight_filler { type: "xavier" }'), x, np.float32)
    assert len(layer.blobs) == 1 and layer.blobs[0].dtype == np.float32
    layer.forward(bottom, top)
    y = F.linear(torch.from_numpy(x), torch.from_numpy(layer.blobs[0].data))
    np.testing.assert_allclose(top[0].data, y.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params", ["num_output: 3", "num_output: 3 transpose: true",
                                    "num_output: 2 axis: 2", "num_output: 3 bias_term: false"])
def test_gradient(params):
    layer, bottom, top = setup_layer(ip_text(params), RNG.standard_normal((2, 3, 2)))
    check_gradient(layer, bottom, top)


def test_gradient_params_only():
    layer, bottom, top = setup_layer(ip_text("num_output: 3"), RNG.standard_normal((3, 4)))
    check_gradient(layer, bottom, top, check_bottom=[])


def test_diffs_accumulate_and_propagate_down_respected():
    layer, bottom, top = setup_layer(ip_text("num_output: 3"), RNG.standard_normal((3, 4)))
    layer.forward(bottom, top)
    top[0].diff[...] = RNG.standard_normal((3, 3))
    bottom[0].diff[...] = 5.0
    layer.backward(top, [False], bottom)
    assert np.all(bottom[0].diff == 5.0)
    w1, b1 = layer.blobs[0].diff.copy(), layer.blobs[1].diff.copy()
    layer.param_propagate_down = [True, False]
    layer.backward(top, [False], bottom)
    np.testing.assert_allclose(layer.blobs[0].diff, 2 * w1)
    np.testing.assert_allclose(layer.blobs[1].diff, b1)


def test_bad_num_output():
    with pytest.raises(ConfigError, match="layer 'fc'.*num_output must be positive"):
        setup_layer(ip_text("num_output: 0"), np.zeros((2, 3)))


def test_bad_axis():
    with pytest.raises(ConfigError, match="axis"):
        setup_layer(ip_text("num_output: 2 axis: 3"), np.zeros((2, 3)))


def test_reshape_with_other_input_size_is_rejected():
    layer, bottom, top = setup_layer(ip_text("num_output: 2"), np.zeros((2, 3, 4)))
    bottom[0].reshape(5, 3, 4)
    layer.reshape(bottom, top)  # a new batch size is fine
    assert top[0].shape == (5, 2)
    bottom[0].reshape(2, 3, 5)
    with pytest.raises(ShapeError, match="incompatible with inner product") as info:
        layer.reshape(bottom, top)
    assert info.value.found == 15
