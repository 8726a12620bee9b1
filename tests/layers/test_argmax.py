"""ArgMax: shapes, torch.topk, Caffe's tie order, bad params."""
import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.layer_helpers import run_layer

RNG = np.random.default_rng(11)


def topk(x, k, dim):
    values, indices = torch.topk(torch.from_numpy(x), k, dim=dim)
    return values.numpy(), indices.numpy().astype(np.float64)


@pytest.mark.parametrize("text, bottom_shape, top_shape", [
    ('type: "ArgMax"', (4, 10), (4, 1, 1)),
    ('type: "ArgMax" argmax_param { top_k: 3 }', (4, 3, 2, 2), (4, 1, 3, 1)),
    ('type: "ArgMax" argmax_param { out_max_val: true top_k: 2 }', (4, 10), (4, 2, 2)),
    ('type: "ArgMax" argmax_param { axis: 1 top_k: 2 }', (4, 3, 2, 2), (4, 2, 2, 2)),
    ('type: "ArgMax" argmax_param { axis: -1 }', (4, 3, 5), (4, 3, 1)),
])
def test_shapes(text, bottom_shape, top_shape):
    _, _, top = run_layer(text, [RNG.standard_normal(bottom_shape)])
    assert top[0].shape == top_shape


@pytest.mark.parametrize("top_k", [1, 3])
def test_indices_per_sample_match_torch(top_k):
    x = RNG.standard_normal((5, 2, 3, 2))
    _, _, top = run_layer(f'type: "ArgMax" argmax_param {{ top_k: {top_k} }}', [x])
    _, indices = topk(x.reshape(5, -1), top_k, 1)
    np.testing.assert_array_equal(top[0].data.reshape(5, top_k), indices)


def test_out_max_val_without_axis_gives_indices_then_values():
    x = RNG.standard_normal((4, 7))
    _, _, top = run_layer('type: "ArgMax" argmax_param { out_max_val: true top_k: 3 }', [x])
    values, indices = topk(x, 3, 1)
    np.testing.assert_array_equal(top[0].data[:, 0, :], indices)
    np.testing.assert_array_equal(top[0].data[:, 1, :], values)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_axis_indices_match_torch(axis):
    x = RNG.standard_normal((3, 4, 5))
    _, _, top = run_layer(f'type: "ArgMax" argmax_param {{ axis: {axis} top_k: 2 }}', [x])
    _, indices = topk(x, 2, axis)
    np.testing.assert_array_equal(top[0].data, indices)


def test_axis_out_max_val_gives_values_only():
    x = RNG.standard_normal((3, 6, 2))
    _, _, top = run_layer('type: "ArgMax" argmax_param { axis: 1 top_k: 3 out_max_val: true }', [x])
    values, _ = topk(x, 3, 1)
    np.testing.assert_array_equal(top[0].data, values)


def test_ties_rank_larger_index_first():
    # Caffe sorts (value, index) pairs with std::greater: equal values -> larger index first
    x = np.array([[3.0, 5.0, 5.0, 1.0, 5.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0]])
    _, _, top = run_layer('type: "ArgMax" argmax_param { top_k: 4 out_max_val: true }', [x])
    np.testing.assert_array_equal(top[0].data[:, 0, :], [[4, 2, 1, 0], [4, 3, 2, 1]])
    np.testing.assert_array_equal(top[0].data[:, 1, :], [[5, 5, 5, 3], [0, 0, 0, 0]])
    _, _, top = run_layer('type: "ArgMax" argmax_param { axis: 1 top_k: 2 }', [x])
    np.testing.assert_array_equal(top[0].data, [[4, 2], [4, 3]])


def test_float32():
    x = RNG.standard_normal((3, 8)).astype(np.float32)
    _, _, top = run_layer('type: "ArgMax"', [x], dtype=np.float32)
    np.testing.assert_array_equal(top[0].data.reshape(3), x.argmax(axis=1))


@pytest.mark.parametrize("text, shape, pattern", [
    ("argmax_param { top_k: 0 }", (2, 10), "top_k must not be less than 1"),
    ("argmax_param { top_k: 11 }", (2, 10),
     "top_k must be less than or equal to the dimension of the flattened"),
    ("argmax_param { axis: 1 top_k: 3 }", (2, 2),
     "top_k must be less than or equal to the dimension of the axis"),
    ("argmax_param { axis: 2 }", (2, 2), r"axis 2 out of range.*argmax_param.axis"),
])
def test_bad_params_rejected(text, shape, pattern):
    with pytest.raises(ConfigError, match=r"layer 'argmax' \(ArgMax\): " + pattern):
        run_layer('type: "ArgMax" ' + text, [np.zeros(shape)])


def test_no_backward():
    layer, bottom, top = run_layer('type: "ArgMax"', [np.zeros((2, 3))])
    with pytest.raises(ConfigError, match="cannot backpropagate"):
        layer.backward(top, [True], bottom)
