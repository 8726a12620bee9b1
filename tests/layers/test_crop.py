import numpy as np
import pytest
import torch

from caffeine.errors import ConfigError
from caffeine.testing.gradient_check import check_gradient
from caffeine.testing.layer_helpers import blobs_from, empty_tops, make_layer, run_layer

RNG = np.random.default_rng(5)


def crop_text(axis=None, offsets=()):
    body = (f"axis: {axis} " if axis is not None else "") + " ".join(f"offset: {o}" for o in offsets)
    return f'type: "Crop" crop_param {{ {body} }}'


@pytest.mark.parametrize("axis,offsets,expect_index", [
    (None, (), (slice(None), slice(None), slice(0, 3), slice(0, 2))),          # default axis 2, offset 0
    (2, (1,), (slice(None), slice(None), slice(1, 4), slice(1, 3))),
    (1, (1, 0, 2), (slice(None), slice(1, 3), slice(0, 3), slice(2, 4))),
    (-1, (3,), (slice(None), slice(None), slice(None), slice(3, 5))),
])
def test_forward(axis, offsets, expect_index):
    x = RNG.standard_normal((2, 4, 5, 6))
    ref_shape = [2, 4, 5, 6]
    start = 2 if axis is None else axis % 4
    ref_small = (2, 2, 3, 2)
    for i in range(start, 4):
        ref_shape[i] = ref_small[i]
    ref = np.zeros(ref_shape)
    _, _, top = run_layer(crop_text(axis, offsets), [x, ref])
    t = torch.from_numpy(x)
    for dim, sl in enumerate(expect_index):  # torch.narrow as the oracle
        if sl.start is not None:
            t = t.narrow(dim, sl.start, sl.stop - sl.start)
    assert top[0].shape == tuple(t.shape)
    np.testing.assert_array_equal(top[0].data, t.numpy())


def test_gradient_and_reference_bottom_untouched():
    layer = make_layer(crop_text(1, (1, 2)))
    bottom = blobs_from(RNG.standard_normal((2, 4, 5)), np.zeros((2, 2, 3)))
    bottom[1].diff[...] = 9.0
    check_gradient(layer, bottom, empty_tops(1), check_bottom=[0])
    assert np.all(bottom[1].diff == 9.0)
    assert not layer.allow_force_backward(1)


def test_backward_zeroes_outside_the_crop():
    layer, bottom, top = run_layer(crop_text(2, (1,)), [RNG.standard_normal((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))])
    bottom[0].diff[...] = 5.0
    top[0].diff[...] = 1.0
    layer.backward(top, [True, False], bottom)
    expect = np.zeros((4, 4))
    expect[1:3, 1:3] = 1.0
    np.testing.assert_array_equal(bottom[0].diff[0, 0], expect)


@pytest.mark.parametrize("text,match", [
    (crop_text(2, (3,)), "invalid crop parameters in axis 2: offset 3 \\+ reference size 3 exceeds the input size 5"),
    (crop_text(2, (0, 5)), "invalid crop parameters in axis 3"),
    (crop_text(1, (0, 0)), "number of offset values"),
    (crop_text(4), "axis 4 is out of range"),
])
def test_bad_offsets_name_the_layer_and_axis(text, match):
    with pytest.raises(ConfigError, match="layer 'crop' \\(Crop\\): " + match):
        run_layer(text, [np.zeros((2, 4, 5, 6)), np.zeros((2, 4, 3, 2))])


def test_reference_larger_than_input_rejected():
    with pytest.raises(ConfigError, match="axis 0"):
        run_layer(crop_text(2), [np.zeros((2, 4, 5, 6)), np.zeros((3, 4, 3, 2))])
    with pytest.raises(ConfigError, match="same number of axes"):
        run_layer(crop_text(1), [np.zeros((2, 4, 5)), np.zeros((2, 4))])
