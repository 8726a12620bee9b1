"""caffeine.io (pycaffe's caffe.io): converters, load_image, resize, oversample, Transformer."""
import cv2
import numpy as np
import pytest

from caffeine import io as cio
from caffeine.errors import ConfigError
from caffeine.proto import caffe_pb2
from caffeine.testing.shared import shared_path


def test_datum_roundtrip_uint8_and_float():
    arr = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    d = cio.array_to_datum(arr, label=7)
    assert (d.channels, d.height, d.width, d.label, len(d.float_data)) == (3, 4, 5, 7, 0)
    np.testing.assert_array_equal(cio.datum_to_array(caffe_pb2.Datum.FromString(d.SerializeToString())), arr)
    f = np.random.default_rng(1).standard_normal((2, 3, 4)).astype(np.float32)
    d = cio.array_to_datum(f)
    assert len(d.data) == 0 and d.label == 0
    np.testing.assert_array_equal(cio.datum_to_array(d), f)
    with pytest.raises(ConfigError, match="C x H x W"):
        cio.array_to_datum(np.zeros((2, 2)))


def test_blobproto_roundtrip_legacy_and_vector():
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    blob = cio.array_to_blobproto(arr, diff=-arr)
    assert list(blob.shape.dim) == [2, 3, 4]
    np.testing.assert_array_equal(cio.blobproto_to_array(blob), arr)
    np.testing.assert_array_equal(cio.blobproto_to_array(blob, return_diff=True), -arr)
    legacy = caffe_pb2.BlobProto(num=1, channels=2, height=3, width=4)
    legacy.data.extend(range(24))
    assert cio.blobproto_to_array(legacy).shape == (1, 2, 3, 4)
    arrays = [arr, np.ones((5,), np.float32)]
    back = cio.blobprotovector_str_to_arraylist(cio.arraylist_to_blobprotovector_str(arrays))
    for a, b in zip(arrays, back):
        np.testing.assert_array_equal(a, b)


def test_load_image_color_gray_and_missing(tmp_path):
    path = shared_path("data", "images", "cat.jpg")
    bgr = cv2.imread(str(path))
    img = cio.load_image(str(path))
    assert img.dtype == np.float32 and img.shape == bgr.shape and 0 <= img.min() and img.max() <= 1
    np.testing.assert_allclose(img, bgr[:, :, ::-1] / 255.0, atol=1e-6)   # RGB in [0, 1]
    gray = cio.load_image(str(path), color=False)
    assert gray.shape == bgr.shape[:2] + (1,)
    # skimage's rgb2gray weights (what pycaffe used)
    np.testing.assert_allclose(gray[:, :, 0], (bgr[:, :, ::-1] / 255.0) @ [0.2125, 0.7154, 0.0721], atol=1e-5)
    g = np.random.default_rng(0).integers(0, 256, (6, 7), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), g)
    tiled = cio.load_image(str(tmp_path / "g.png"))
    assert tiled.shape == (6, 7, 3)
    np.testing.assert_allclose(tiled[:, :, 1], g / 255.0, atol=1e-6)
    with pytest.raises(ConfigError, match="does not exist"):
        cio.load_image(str(tmp_path / "missing.jpg"))


def test_resize_image_matches_opencv_and_many_channels():
    im = np.random.default_rng(0).uniform(0, 1, (10, 12, 3)).astype(np.float32)
    out = cio.resize_image(im, (7, 9))
    assert out.shape == (7, 9, 3)
    np.testing.assert_allclose(out, cv2.resize(im, (9, 7), interpolation=cv2.INTER_LINEAR), atol=1e-6)
    wide = np.random.default_rng(1).uniform(0, 1, (6, 6, 600)).astype(np.float32)
    out = cio.resize_image(wide, (3, 4), interp_order=0)
    assert out.shape == (3, 4, 600)
    np.testing.assert_array_equal(out[:, :, 550], cv2.resize(wide[:, :, 550], (4, 3),
                                                             interpolation=cv2.INTER_NEAREST))


def _pycaffe_oversample(images, crop_dims):
    """pycaffe's oversample, transcribed."""
    im_shape = np.array(images[0].shape)
    crop_dims = np.array(crop_dims)
    im_center = im_shape[:2] / 2.0
    h_indices = (0, im_shape[0] - crop_dims[0])
    w_indices = (0, im_shape[1] - crop_dims[1])
    crops_ix = np.empty((5, 4), dtype=int)
    curr = 0
    for i in h_indices:
        for j in w_indices:
            crops_ix[curr] = (i, j, i + crop_dims[0], j + crop_dims[1])
            curr += 1
    crops_ix[4] = np.tile(im_center, (1, 2)) + np.concatenate([-crop_dims / 2.0, crop_dims / 2.0])
    crops_ix = np.tile(crops_ix, (2, 1))
    crops = np.empty((10 * len(images), crop_dims[0], crop_dims[1], im_shape[-1]), dtype=np.float32)
    ix = 0
    for im in images:
        for crop in crops_ix:
            crops[ix] = im[crop[0]:crop[2], crop[1]:crop[3], :]
            ix += 1
        crops[ix - 5:ix] = crops[ix - 5:ix, :, ::-1, :]
    return crops


def test_oversample_matches_pycaffe():
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 1, (9, 11, 3)).astype(np.float32) for _ in range(2)]
    np.testing.assert_array_equal(cio.oversample(images, (5, 6)), _pycaffe_oversample(images, (5, 6)))


def test_transformer_preprocess_deprocess():
    t = cio.Transformer({"data": (1, 3, 8, 10)})
    t.set_transpose("data", (2, 0, 1))
    t.set_channel_swap("data", (2, 1, 0))
    t.set_raw_scale("data", 255)
    mean = np.array([104.0, 117.0, 123.0])
    t.set_mean("data", mean)
    t.set_input_scale("data", 0.5)
    img = np.random.default_rng(0).uniform(0, 1, (8, 10, 3)).astype(np.float32)
    out = t.preprocess("data", img)
    want = (img.transpose(2, 0, 1)[::-1] * 255 - mean[:, None, None]) * 0.5
    assert out.dtype == np.float32 and out.shape == (3, 8, 10)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(t.deprocess("data", out), img, atol=1e-5)
    # an input of another size is resized first
    big = np.random.default_rng(1).uniform(0, 1, (16, 20, 3)).astype(np.float32)
    assert t.preprocess("data", big).shape == (3, 8, 10)


def test_transformer_mean_shapes_and_errors():
    t = cio.Transformer({"data": (1, 3, 4, 4)})
    t.set_mean("data", np.ones((3, 8, 8)) * np.arange(3)[:, None, None])   # resized to 4x4
    assert t.mean["data"].shape == (3, 4, 4)
    np.testing.assert_allclose(t.mean["data"][2], 2.0, atol=1e-5)
    with pytest.raises(ConfigError, match="Mean channels incompatible"):
        t.set_mean("data", np.ones(4))
    with pytest.raises(ConfigError, match="not one of the net inputs"):
        t.preprocess("label", np.zeros((4, 4, 3)))
    with pytest.raises(ConfigError, match="channel swap"):
        t.set_channel_swap("data", (1, 0))
