"""Data layer: LMDB of Datums -> transformed batches, prefetched and deterministic."""

import cv2
import numpy as np
import pytest

from caffeine import backend
from caffeine.data.db import open_writer, write_datums
from caffeine.errors import ConfigError, DataError
from caffeine.proto import caffe_pb2
from caffeine.testing.layer_helpers import empty_tops, make_layer

N = 10


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (N, 3, 10, 12), dtype=np.uint8)


@pytest.fixture
def db(tmp_path, images):
    write_datums(tmp_path / "db", images, np.arange(N) % 7)
    return tmp_path / "db"


def _layer(source, params="", batch=4, phase=caffe_pb2.TRAIN, tops=2, extra=""):
    top = 'top: "data" top: "label"' if tops == 2 else 'top: "data"'
    layer = make_layer(f'name: "data" type: "Data" {top} data_param {{ source: "{source}" '
                       f'batch_size: {batch} {extra} }} transform_param {{ {params} }}', phase)
    t = empty_tops(tops, dtype=np.float32)
    layer.layer_setup([], t)
    return layer, t


def _batches(layer, t, k):
    out = []
    for _ in range(k):
        layer.forward([], t)
        out.append([b.data.copy() for b in t])
    return out


def test_shapes_and_caffe_log_lines(db, caffeine_log):
    layer, t = _layer(db, "crop_size: 6", batch=4)
    assert t[0].shape == (4, 3, 6, 6) and t[1].shape == (4,)
    assert f"Opening lmdb {db}" in caffeine_log.text
    assert "output data size: 4,3,6,6" in caffeine_log.text
    layer.close()


def test_test_phase_values_centre_crop_mean_scale_and_wraparound(db, images):
    layer, t = _layer(db, "crop_size: 6 scale: 0.5 mean_value: 10 mean_value: 20 mean_value: 30",
                      batch=4, phase=caffe_pb2.TEST)
    got = _batches(layer, t, 3)
    layer.close()
    mean = np.array([10, 20, 30], np.float32)[:, None, None]
    order = [i % N for i in range(12)]                  # 12 items from 10: wraps around
    for b in range(3):
        for k in range(4):
            i = order[4 * b + k]
            want = (images[i, :, 2:8, 3:9].astype(np.float32) - mean) * 0.5
            np.testing.assert_allclose(got[b][0][k], want, rtol=1e-6)
            assert got[b][1][k] == i % 7


def test_train_mirror_and_crop_are_random_but_seeded(db, images, monkeypatch):
    def run(seed, threads):
        monkeypatch.setenv("CAFFEINE_DATA_THREADS", str(threads))
        backend.set_random_seed(seed)
        layer, t = _layer(db, "crop_size: 8 mirror: true", batch=5)
        out = _batches(layer, t, 6)
        layer.close()
        return out

    a, b, c = run(7, 1), run(7, 4), run(8, 2)
    for x, y in zip(a, b):               # same seed: identical, whatever the thread count
        np.testing.assert_array_equal(x[0], y[0])
    assert any(not np.array_equal(x[0], z[0]) for x, z in zip(a, c))
    # every item is one crop of its image, mirrored or not; both happen
    flips = []
    for bi, batch in enumerate(a):
        for k in range(5):
            img = images[(5 * bi + k) % N].astype(np.float32)
            item = batch[0][k]
            crops = [(img[:, y:y + 8, x:x + 8], m) for y in range(3) for x in range(5) for m in (0, 1)]
            matches = [m for c_, m in crops if np.array_equal(c_[:, :, ::-1] if m else c_, item)]
            assert matches, "not a crop of the source image"
            flips.append(matches[0])
    assert 0 < sum(flips) < len(flips)


def test_rand_skip_is_seeded(db):
    backend.set_random_seed(3)
    layer, t = _layer(db, "", batch=1, phase=caffe_pb2.TEST, extra="rand_skip: 9")
    first = _batches(layer, t, 1)[0][1][0]
    layer.close()
    assert layer.skip < 9 and first == layer.skip % 7
    backend.set_random_seed(3)
    again, t = _layer(db, "", batch=1, phase=caffe_pb2.TEST, extra="rand_skip: 9")
    assert again.skip == layer.skip
    again.close()


def test_seek_resumes_the_same_stream(db):
    backend.set_random_seed(11)
    a, ta = _layer(db, "crop_size: 6 mirror: true", batch=3)
    straight = _batches(a, ta, 5)
    a.close()
    backend.set_random_seed(11)
    b, tb = _layer(db, "crop_size: 6 mirror: true", batch=3)
    _batches(b, tb, 1)
    b.seek(3)
    resumed = _batches(b, tb, 2)
    b.close()
    for x, y in zip(straight[3:], resumed):
        np.testing.assert_array_equal(x[0], y[0])
        np.testing.assert_array_equal(x[1], y[1])
    assert b.batches_consumed == 5 and b.wait_seconds >= 0.0


def test_encoded_and_float_datums(tmp_path, images):
    with open_writer(tmp_path / "enc") as w:
        for i, img in enumerate(images):
            ok, png = cv2.imencode(".png", img.transpose(1, 2, 0))
            w.put(b"%08d" % i, caffe_pb2.Datum(data=png.tobytes(), encoded=True, label=i).SerializeToString())
    layer, t = _layer(tmp_path / "enc", "", batch=4, phase=caffe_pb2.TEST)
    got = _batches(layer, t, 1)[0]
    layer.close()
    np.testing.assert_array_equal(got[0], images[:4].astype(np.float32))
    gray, t = _layer(tmp_path / "enc", "force_gray: true", batch=2, phase=caffe_pb2.TEST)
    assert t[0].shape == (2, 1, 10, 12)
    gray.close()
    floats = np.random.default_rng(2).standard_normal((3, 2, 4, 4)).astype(np.float32)
    with open_writer(tmp_path / "flt") as w:
        for i, f in enumerate(floats):
            d = caffe_pb2.Datum(channels=2, height=4, width=4, label=i)
            d.float_data.extend(f.ravel())
            w.put(b"%08d" % i, d.SerializeToString())
    layer, t = _layer(tmp_path / "flt", "scale: 2", batch=3, phase=caffe_pb2.TEST, tops=1)
    got = _batches(layer, t, 1)[0]
    layer.close()
    assert len(t) == 1
    np.testing.assert_allclose(got[0], floats * 2, rtol=1e-6)


def test_corrupt_datum_is_reported_at_forward(tmp_path, images):
    with open_writer(tmp_path / "bad") as w:
        w.put(b"0", caffe_pb2.Datum(channels=1, height=2, width=2, data=bytes(4)).SerializeToString())
        w.put(b"1", caffe_pb2.Datum(data=b"garbage", encoded=True).SerializeToString())
    layer, t = _layer(tmp_path / "bad", "", batch=2, phase=caffe_pb2.TEST)
    with pytest.raises(DataError, match="could not decode"):
        layer.forward([], t)
    layer.close()


def test_train_and_test_layers_share_one_db(db):
    a, ta = _layer(db, "", batch=4, phase=caffe_pb2.TRAIN)
    b, tb = _layer(db, "", batch=4, phase=caffe_pb2.TEST)
    x, y = _batches(a, ta, 2), _batches(b, tb, 2)
    np.testing.assert_array_equal(x[1][0], y[1][0])
    a.close()
    b.close()


def test_bad_parameters(db, tmp_path):
    with pytest.raises(ConfigError, match="batch_size must be positive"):
        _layer(db, "", batch=0)
    with pytest.raises(DataError, match=r"layer 'data'.*nope_lmdb.*does not exist"):
        _layer(tmp_path / "nope_lmdb", "")
    with pytest.raises(DataError, match="crop_size 20 is larger"):
        _layer(db, "crop_size: 20")
    with pytest.raises(ConfigError, match="wrong number of top blobs"):
        make_layer(f'type: "Data" top: "a" top: "b" top: "c" data_param {{ source: "{db}" batch_size: 2 }}'
                   ).layer_setup([], empty_tops(3, dtype=np.float32))


def test_in_a_net_with_source_relative_to_the_prototxt(tmp_path, images):
    from caffeine.net import Net
    write_datums(tmp_path / "train_lmdb", images, np.arange(N))
    proto = tmp_path / "net.prototxt"
    proto.write_text('layer { name: "d" type: "Data" top: "data" top: "label" '
                     'data_param { source: "train_lmdb" batch_size: 2 } '
                     'transform_param { scale: 0.00390625 } }\n'
                     'layer { name: "s" type: "Silence" bottom: "label" }\n')
    net = Net(str(proto), caffe_pb2.TEST)
    net.forward()
    np.testing.assert_allclose(net.blobs["data"].data, images[:2] / 256.0, rtol=1e-6)
