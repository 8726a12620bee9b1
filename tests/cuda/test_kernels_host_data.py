"""The data transform kernels (layers_cuda/data_transform.cu), built for the host, against the
host DataTransformer and WindowData's arithmetic: odd launch sizes, float and double builds."""
import numpy as np
import pytest
from google.protobuf import text_format

from caffeine.data.transformer import DataTransformer
from caffeine.proto import caffe_pb2
from caffeine.testing import cuda_host

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params,mean", [("crop_size: 5 mirror: true scale: 0.25", "file"),
                                         ("mirror: true", "values"),
                                         ("crop_size: 3 scale: 2", "none")])
def test_transform_kernel_equals_the_host_transform(params, mean, dtype):
    rng = np.random.default_rng(2)
    n, c, h, w = 3, 2, 7, 5
    batch = rng.integers(0, 256, (n, c, h, w), dtype=np.uint8)
    param = caffe_pb2.TransformationParameter()
    text_format.Parse(params + (" mean_value: 11 mean_value: 250.5" if mean == "values" else ""), param)
    t = DataTransformer(param, caffe_pb2.TRAIN)
    if mean == "file":
        t.mean = rng.uniform(0, 255, (c, h, w)).astype(np.float32)
    batch, h_off, w_off, mirror = t.prepare(batch, np.random.default_rng(5))
    want = t.apply(batch, h_off, w_off, mirror)
    mode, mvals = {"none": (0, np.zeros(1, np.float32)), "file": (1, t.mean),
                   "values": (2, t.mean_values)}[mean]
    out = np.zeros(want.shape, dtype)
    ch, cw = want.shape[2:]
    choices = np.stack([h_off, w_off, mirror]).astype(np.int32)
    cuda_host.launch("data_transform", "transform_uint8", out.size,
                     (batch, I(c), I(h), I(w), I(ch), I(cw), choices[0], choices[1], choices[2], I(mode),
                      np.ascontiguousarray(mvals, np.float32), I(mvals.size), np.float32(t.scale), out),
                     dtype=dtype, grid=2, block=3)
    np.testing.assert_array_equal(out, want.astype(dtype))   # same float32 operations


def window_oracle(canvas, rects, mean, scale):
    """WindowData's host arithmetic: (pixel - mean) * scale inside each window's rectangle."""
    mask = np.zeros(canvas.shape, bool)
    for k, (top, left, h, w) in enumerate(rects.T):
        mask[k, :, top:top + h, left:left + w] = True
    pixels = canvas.astype(np.float32)
    if mean is not None:
        pixels -= mean
    return np.where(mask, pixels * np.float32(scale), np.float32(0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mean", ["file", "value", "values", "none"])
def test_window_kernel_equals_window_data_arithmetic(mean, dtype):
    rng = np.random.default_rng(3)
    n, c, size = 4, 3, 7
    canvas = rng.integers(0, 256, (n, c, size, size), dtype=np.uint8)
    # rows top, left, height, width; item 0 the whole canvas, item 3 an empty rectangle
    rects = np.array([[0, 2, 1, 0], [0, 1, 3, 0], [7, 4, 2, 0], [7, 5, 4, 0]], np.int32)
    scale = 0.5 if mean != "value" else 1.0
    if mean == "file":
        mode, mvals = 1, rng.uniform(0, 255, (c, size, size)).astype(np.float32)
        oracle_mean = mvals
    elif mean == "values":
        mode, mvals = 2, np.array([10, 20.5, 30], np.float32)
        oracle_mean = mvals.reshape(-1, 1, 1)
    elif mean == "value":
        mode, mvals = 2, np.array([100], np.float32)
        oracle_mean = mvals.reshape(-1, 1, 1)
    else:
        mode, mvals, oracle_mean = 0, np.zeros(1, np.float32), None
    canvas[3] = 0
    want = window_oracle(canvas, rects, oracle_mean, scale)
    out = np.full(canvas.shape, 7, dtype)
    cuda_host.launch("data_transform", "window_uint8", out.size,
                     (canvas, I(c), I(size), rects, I(mode), mvals, I(mvals.size), np.float32(scale), out),
                     dtype=dtype, grid=3, block=5)
    np.testing.assert_array_equal(out, want.astype(dtype))
    assert not out[3].any()                               # an empty rectangle leaves zeros
