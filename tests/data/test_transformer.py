"""DataTransformer vs a per-element numpy transcription of Caffe's Transform."""
import cv2
import numpy as np
import pytest
from google.protobuf import text_format

from caffeine.data.transformer import DataTransformer, decode_datum, load_mean_file, write_mean_file
from caffeine.errors import ConfigError, DataError
from caffeine.proto import caffe_pb2

TRAIN, TEST = caffe_pb2.TRAIN, caffe_pb2.TEST


def _param(text):
    return text_format.Parse(text, caffe_pb2.TransformationParameter())


def caffe_transform(datum, crop, scale, h_off, w_off, mirror, mean=None, mean_values=None):
    """Caffe's DataTransformer::Transform(const Datum&, Dtype*), loop for loop."""
    c_, h_, w_ = datum.shape
    height, width = (crop, crop) if crop else (h_, w_)
    out = np.zeros((c_, height, width), np.float32)
    for c in range(c_):
        for h in range(height):
            for w in range(width):
                v = float(datum[c, h_off + h, w_off + w])
                if mean is not None:
                    v = (v - mean[c, h_off + h, w_off + w]) * scale
                elif mean_values is not None:
                    v = (v - mean_values[c if len(mean_values) > 1 else 0]) * scale
                else:
                    v = v * scale
                out[c, h, width - 1 - w if mirror else w] = v
    return out


@pytest.fixture
def batch():
    return np.random.default_rng(0).integers(0, 256, (5, 3, 9, 11), dtype=np.uint8)


@pytest.mark.parametrize("extra", ["", "mean_value: 100", "mean_value: 10 mean_value: 20 mean_value: 30",
                                   "MEANFILE"])
def test_apply_matches_caffe_elementwise(batch, tmp_path, extra):
    mean = None
    if extra == "MEANFILE":
        mean = np.random.default_rng(1).uniform(0, 255, (3, 9, 11)).astype(np.float32)
        write_mean_file(tmp_path / "m.binaryproto", mean)
        extra = f'mean_file: "{tmp_path / "m.binaryproto"}"'
    t = DataTransformer(_param(f"crop_size: 5 mirror: true scale: 0.25 {extra}"), TRAIN)
    h_off, w_off = np.array([0, 4, 2, 1, 3]), np.array([6, 0, 3, 5, 2])
    mirror = np.array([True, False, True, False, True])
    got = t.apply(batch, h_off, w_off, mirror)
    mv = list(t.mean_values) if t.mean_values is not None else None
    for i in range(5):
        want = caffe_transform(batch[i], 5, 0.25, h_off[i], w_off[i], mirror[i], mean, mv)
        np.testing.assert_allclose(got[i], want, rtol=1e-6, atol=1e-5)
    assert got.dtype == np.float32 and got.shape == (5, 3, 5, 5)


def test_train_draws_random_crops_and_mirrors_test_centre(batch):
    t = DataTransformer(_param("crop_size: 5 mirror: true"), TRAIN)
    rng = np.random.default_rng(3)
    h_off, w_off, mirror = t.draw(2000, 9, 11, rng)
    assert set(h_off) == set(range(5)) and set(w_off) == set(range(7))
    assert 0.4 < mirror.mean() < 0.6
    t_test = DataTransformer(_param("crop_size: 5"), TEST)
    got = t_test.transform(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(got, batch[:, :, 2:7, 3:8].astype(np.float32))


def test_transform_is_deterministic_in_the_rng(batch):
    t = DataTransformer(_param("crop_size: 6 mirror: true scale: 0.5"), TRAIN)
    a = t.transform(batch, np.random.default_rng(7))
    b = t.transform(batch, np.random.default_rng(7))
    c = t.transform(batch, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_no_crop_no_mirror_is_just_scale_and_float_data(batch):
    t = DataTransformer(_param("scale: 0.00390625"), TRAIN)
    np.testing.assert_allclose(t.transform(batch, np.random.default_rng()), batch / 256.0, rtol=1e-6)
    floats = batch.astype(np.float32) + 0.5
    np.testing.assert_allclose(t.transform(floats, np.random.default_rng()), floats / 256.0, rtol=1e-6)


def test_ragged_items_are_cropped_individually():
    rng = np.random.default_rng(0)
    items = [rng.integers(0, 256, (3, h, w), dtype=np.uint8) for h, w in ((10, 12), (8, 9), (14, 8))]
    t = DataTransformer(_param("crop_size: 6"), TEST)
    got = t.transform(items, rng)
    want = [a[:, (a.shape[1] - 6) // 2:(a.shape[1] - 6) // 2 + 6,
              (a.shape[2] - 6) // 2:(a.shape[2] - 6) // 2 + 6] for a in items]
    np.testing.assert_array_equal(got, np.stack(want).astype(np.float32))
    with pytest.raises(DataError, match="different sizes"):
        DataTransformer(_param(""), TEST).transform(items, rng)


def test_decode_encoded_datum_native_color_gray():
    img = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    ok, png = cv2.imencode(".png", img)
    datum = caffe_pb2.Datum(data=png.tobytes(), encoded=True, label=3)
    np.testing.assert_array_equal(decode_datum(datum), img.transpose(2, 0, 1))
    gray = decode_datum(datum, force_gray=True)
    assert gray.shape == (1, 7, 5)   # Caffe's DecodeDatumToCVMat(datum, false): imdecode gray
    np.testing.assert_array_equal(gray[0], cv2.imdecode(png, cv2.IMREAD_GRAYSCALE))
    ok, png1 = cv2.imencode(".png", img[:, :, 0])
    color = decode_datum(caffe_pb2.Datum(data=png1.tobytes(), encoded=True), force_color=True)
    assert color.shape == (3, 7, 5)
    with pytest.raises(DataError, match="could not decode"):
        decode_datum(caffe_pb2.Datum(data=b"not an image", encoded=True))


def test_mean_file_roundtrip_and_shape_check(tmp_path):
    mean = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    write_mean_file(tmp_path / "m.binaryproto", mean)
    np.testing.assert_array_equal(load_mean_file(str(tmp_path / "m.binaryproto")), mean)
    t = DataTransformer(_param(f'mean_file: "{tmp_path / "m.binaryproto"}"'), TEST)
    with pytest.raises(DataError, match="mean_file shape"):
        t.check_shape((2, 5, 5))
    with pytest.raises(DataError, match="does not exist"):
        DataTransformer(_param('mean_file: "/nonexistent/mean.binaryproto"'), TEST, layer="data")


@pytest.mark.parametrize("text,match", [
    ("mean_file: 'x' mean_value: 1", "mean_file and mean_value"),
    ("force_color: true force_gray: true", "force_color and force_gray"),
])
def test_bad_parameters(text, match):
    with pytest.raises(ConfigError, match=match):
        DataTransformer(_param(text), TRAIN, layer="data")


def test_crop_larger_than_input_and_wrong_mean_value_count():
    t = DataTransformer(_param("crop_size: 32"), TRAIN, layer="data")
    with pytest.raises(DataError, match="crop_size 32 is larger"):
        t.check_shape((1, 28, 28))
    t = DataTransformer(_param("mean_value: 1 mean_value: 2"), TRAIN, layer="data")
    with pytest.raises(ConfigError, match="1 mean_value or as many as channels"):
        t.check_shape((3, 8, 8))
