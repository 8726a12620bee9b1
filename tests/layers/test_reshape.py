import numpy as np
import pytest

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(4)


def reshape_text(dims, extra=""):
    return 'type: "Reshape" reshape_param { shape { ' + " ".join(f"dim: {d}" for d in dims) + " } " + extra + " }"


@pytest.mark.parametrize("in_shape,dims,extra,out_shape", [
    ((2, 3, 4, 5), [0, -1], "", (2, 60)),
    ((2, 3, 4, 5), [0, 0, -1], "", (2, 3, 20)),
    ((2, 3, 4, 5), [-1, 5], "", (24, 5)),
    ((2, 3, 4, 5), [6, 2, 10], "", (6, 2, 10)),
    ((2, 8), [2, 2, 2], "axis: 1", (2, 2, 2, 2)),
    ((2, 8), [1, 1], "axis: 0 num_axes: 0", (1, 1, 2, 8)),
    ((2, 8), [1], "axis: -1 num_axes: 0", (2, 8, 1)),  # axis -1: after the last axis
    ((2, 3, 4), [-1], "axis: 1 num_axes: 2", (2, 12)),
    ((2, 3, 4), [0, 4], "axis: 1 num_axes: 2", (2, 3, 4)),
    ((2, 3, 4), [], "axis: 1 num_axes: 0", (2, 3, 4)),
])
def test_caffe_semantics(in_shape, dims, extra, out_shape):
    x = RNG.standard_normal(in_shape)
    _, bottom, top = run_layer(reshape_text(dims, extra), [x])
    assert top[0].shape == out_shape
    np.testing.assert_array_equal(top[0].data, x.reshape(out_shape))  # row-major, as Caffe
    assert top[0].shares_data_with(bottom[0]) and top[0].shares_diff_with(bottom[0])


def test_follows_bottom_reshape_and_gradient():
    layer, bottom, top = run_layer(reshape_text([0, -1]), [RNG.standard_normal((2, 3, 4))])
    bottom[0].reshape(5, 2, 2)
    layer.forward(bottom, top)
    assert top[0].shape == (5, 4)
    check_gradient(make_layer(reshape_text([-1, 2])), blobs_from(RNG.standard_normal((2, 3, 2))), empty_tops(1))


@pytest.mark.parametrize("dims,extra,match", [
    ([-1, -1], "", "multiple -1"),
    ([5, -1], "", r"must be divisible by the product of the specified dimensions \(5\)"),
    ([0, 0, 0, 0], "", "no corresponding bottom axis"),
    ([7, 4], "", "output count must match input count"),
    ([-2, 12], "", r"positive, 0 \(copy\) or -1"),
    ([2], "axis: 4", "axis 4 out of range"),
    ([2], "axis: -5", "axis -5 out of range"),
    ([2], "axis: 1 num_axes: 3", "out of range for a 3-D bottom"),
    ([2], "num_axes: -2", "num_axes must be >= 0"),
])
def test_bad_params(dims, extra, match):
    with pytest.raises(ConfigError, match=match):
        run_layer(reshape_text(dims, extra), [RNG.standard_normal((2, 3, 4))])
