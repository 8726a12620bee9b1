import numpy as np
import pytest

from caffeine.blob import Blob
from caffeine.errors import ShapeError
from caffeine.proto import caffe_pb2


def test_shape_count_and_legacy_accessors():
    b = Blob(2, 3, 4, 5)
    assert b.shape == (2, 3, 4, 5)
    assert b.count() == 120 and b.count(1) == 60 and b.count(1, 3) == 12
    assert (b.num, b.channels, b.height, b.width) == (2, 3, 4, 5)
    assert Blob(7).channels == 1
    assert b.canonical_axis_index(-1) == 3
    with pytest.raises(ShapeError):
        b.canonical_axis_index(4)
    with pytest.raises(ShapeError):
        Blob(-1, 2)


def test_reshape_keeps_memory_when_shrinking_and_views_are_live():
    b = Blob(4, 5)
    b.data[...] = np.arange(20).reshape(4, 5)
    buf = b._data
    b.reshape(2, 5)
    assert b._data is buf  # no reallocation, as Caffe
    assert b.data.shape == (2, 5)
    b.reshape(10, 10)
    assert b._data is not buf and b.count() == 100
    view = b.diff
    view[0, 0] = 3
    assert b.diff[0, 0] == 3


def test_share_data_and_diff():
    a, b = Blob(3), Blob(3)
    b.share_data(a)
    a.data[...] = [1, 2, 3]
    np.testing.assert_array_equal(b.data, [1, 2, 3])
    b.diff[...] = 5
    assert a.diff.sum() == 0
    with pytest.raises(ShapeError):
        Blob(4).share_data(a)


def test_proto_round_trip_float_and_double():
    b = Blob(2, 3)
    b.data[...] = np.random.default_rng(0).standard_normal((2, 3))
    b.diff[...] = 1.5
    p = b.to_proto(write_diff=True)
    c = Blob()
    c.from_proto(caffe_pb2.BlobProto.FromString(p.SerializeToString()))
    np.testing.assert_array_equal(c.data, b.data)
    np.testing.assert_array_equal(c.diff, b.diff)
    d = Blob(2, dtype=np.float64)
    d.data[...] = [1e-300, 2.0]
    e = Blob(dtype=np.float64)
    e.from_proto(d.to_proto())
    np.testing.assert_array_equal(e.data, [1e-300, 2.0])


def test_legacy_proto_dims():
    p = caffe_pb2.BlobProto(num=1, channels=2, height=1, width=2)
    p.data.extend([1, 2, 3, 4])
    b = Blob()
    b.from_proto(p)
    assert b.shape == (1, 2, 1, 2)


def test_count_is_an_int_and_callable_like_caffe():
    b = Blob(2, 3, 4)
    assert b.count == 24 and b.count() == 24 and b.count(1) == 12 and b.count(0, 2) == 6
    assert isinstance(b.count, int)
