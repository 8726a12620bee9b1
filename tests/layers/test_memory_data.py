"""MemoryData layer: arrays from Python, served batch by batch."""
import cv2
import numpy as np
import pytest

from caffeine.errors import ConfigError, DataError
from caffeine.proto import caffe_pb2
from caffeine.testing.layer_helpers import empty_tops, make_layer


def _layer(batch=2, c=1, h=2, w=3, transform=""):
    layer = make_layer(f'type: "MemoryData" top: "data" top: "label" memory_data_param {{ '
                       f'batch_size: {batch} channels: {c} height: {h} width: {w} }} {transform}')
    t = empty_tops(2, dtype=np.float32)
    layer.layer_setup([], t)
    return layer, t


def test_set_input_arrays_serves_batches_and_wraps():
    layer, t = _layer()
    assert t[0].shape == (2, 1, 2, 3) and t[1].shape == (2,)
    data = np.arange(6 * 6, dtype=np.float32).reshape(6, 1, 2, 3)
    labels = np.arange(6, dtype=np.float32) * 10
    layer.set_input_arrays(data, labels)
    for step in range(4):
        layer.forward([], t)
        rows = [(2 * step) % 6, (2 * step) % 6 + 1]
        np.testing.assert_array_equal(t[0].data, data[rows])
        np.testing.assert_array_equal(t[1].data, labels[rows])


def test_state_is_the_read_position():
    layer, t = _layer()
    data = np.arange(6 * 6, dtype=np.float32).reshape(6, 1, 2, 3)
    layer.set_input_arrays(data, np.arange(6, dtype=np.float32))
    layer.forward([], t)
    state = layer.get_state()
    other, t2 = _layer()
    other.set_input_arrays(data, np.arange(6, dtype=np.float32))
    other.set_state(state)
    other.forward([], t2)
    assert t2[1].data.tolist() == [2, 3]


def test_pycaffe_label_shape_and_batch_size_change():
    layer, t = _layer()
    layer.set_input_arrays(np.zeros((4, 1, 2, 3), np.float32), np.ones((4, 1, 1, 1), np.float32))
    layer.set_batch_size(4)
    layer.forward([], t)
    assert t[0].shape == (4, 1, 2, 3) and t[1].data.tolist() == [1, 1, 1, 1]


def test_add_mat_vector_transforms():
    layer, t = _layer(batch=2, c=3, h=4, w=4,
                      transform="transform_param { crop_size: 4 mean_value: 1 scale: 2 }")
    mats = [np.full((6, 6, 3), 5 + i, np.uint8) for i in range(2)]
    layer.add_mat_vector(mats, [3, 4])
    layer.forward([], t)
    np.testing.assert_array_equal(t[0].data[1], np.full((3, 4, 4), (6 - 1) * 2, np.float32))
    assert t[1].data.tolist() == [3, 4]
    layer.add_mat_vector(mats * 2, [1, 2, 3, 4])        # 2 batches: one served, one pending
    layer.forward([], t)
    with pytest.raises(DataError, match="until current data has been consumed"):
        layer.add_mat_vector(mats, [1, 2])
    layer.forward([], t)
    layer.add_mat_vector(mats, [1, 2])                  # consumed: accepted again


def test_add_datum_vector():
    layer, t = _layer(batch=1, c=1, h=2, w=2)
    ok, png = cv2.imencode(".png", np.array([[1, 2], [3, 4]], np.uint8))
    layer.add_datum_vector([caffe_pb2.Datum(data=png.tobytes(), encoded=True, label=9)])
    layer.forward([], t)
    assert t[0].data.ravel().tolist() == [1, 2, 3, 4] and t[1].data[0] == 9


def test_errors():
    with pytest.raises(ConfigError, match="must be specified and positive"):
        _layer(batch=0)
    layer, t = _layer()
    with pytest.raises(DataError, match="needs to be initialized"):
        layer.forward([], t)
    with pytest.raises(DataError, match="multiple of batch size"):
        layer.set_input_arrays(np.zeros((3, 1, 2, 3), np.float32), np.zeros(3, np.float32))
    with pytest.raises(DataError, match="float32"):
        layer.set_input_arrays(np.zeros((2, 1, 2, 3)), np.zeros(2))
    with pytest.raises(DataError, match="channels x height x width"):
        layer.set_input_arrays(np.zeros((2, 1, 3, 3), np.float32), np.zeros(2, np.float32))
    with pytest.raises(DataError, match="same first dimension"):
        layer.set_input_arrays(np.zeros((2, 1, 2, 3), np.float32), np.zeros(4, np.float32))
