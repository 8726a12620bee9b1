"""TensorBoard event files written without TensorFlow: the record framing (masked CRC-32C) and
the Event/Summary protos, decoded here with protobuf's own parser from a schema declared in
the test (tensorflow/core/util/event.proto and summary.proto, field numbers as published)."""
import struct

import numpy as np
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, text_format
from google.protobuf import message_factory

from caffeine import tensorboard as tb


def _bitwise_crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
    return crc ^ 0xFFFFFFFF


def _event_class():
    """tensorflow.Event / Summary / Summary.Value, declared field by field."""
    f = descriptor_pb2.FileDescriptorProto(name="caffeine_test_event.proto", package="tftest", syntax="proto3")
    summary = f.message_type.add(name="Summary")
    value = summary.nested_type.add(name="Value")
    L, T = descriptor_pb2.FieldDescriptorProto, descriptor_pb2.FieldDescriptorProto
    value.field.add(name="tag", number=1, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    value.field.add(name="simple_value", number=2, type=T.TYPE_FLOAT, label=L.LABEL_OPTIONAL)
    summary.field.add(name="value", number=1, type=T.TYPE_MESSAGE, label=L.LABEL_REPEATED,
                      type_name=".tftest.Summary.Value")
    event = f.message_type.add(name="Event")
    event.field.add(name="wall_time", number=1, type=T.TYPE_DOUBLE, label=L.LABEL_OPTIONAL)
    event.field.add(name="step", number=2, type=T.TYPE_INT64, label=L.LABEL_OPTIONAL)
    event.field.add(name="file_version", number=3, type=T.TYPE_STRING, label=L.LABEL_OPTIONAL)
    event.field.add(name="summary", number=5, type=T.TYPE_MESSAGE, label=L.LABEL_OPTIONAL,
                    type_name=".tftest.Summary")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tftest.Event"))


Event = _event_class()


def _mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_events(path):
    with open(path, "rb") as f:
        data = f.read()
    events, pos = [], 0
    while pos < len(data):
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
        assert header_crc == _mask(_bitwise_crc32c(header))
        body = data[pos + 12:pos + 12 + length]
        (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
        assert body_crc == _mask(_bitwise_crc32c(body))
        event = Event()
        event.ParseFromString(body)
        events.append(event)
        pos += 16 + length
    assert pos == len(data)
    return events


def test_crc32c_known_answer():
    assert tb.crc32c(b"123456789") == 0xE3069283           # the CRC-32C check value
    blob = bytes(np.random.default_rng(0).integers(0, 256, 1000, dtype=np.uint8))
    assert tb.crc32c(blob) == _bitwise_crc32c(blob)


def test_writer_records_parse_back(tmp_path):
    writer = tb.EventWriter(str(tmp_path))
    writer.add_scalars(0, [("train/loss", 2.5), ("train/lr", 0.01)], wall_time=1000.5)
    writer.add_scalar("test/accuracy", 0.75, step=1234567890123)
    writer.close()
    writer.add_scalar("neg", -1.0, step=-1)      # after close: appended to the same file
    writer.close()
    assert "tfevents" in tmp_path.joinpath(writer.path).name
    events = read_events(writer.path)
    assert events[0].file_version == "brain.Event:2"
    assert events[1].wall_time == 1000.5 and events[1].step == 0
    assert [(v.tag, v.simple_value) for v in events[1].summary.value] == [
        ("train/loss", 2.5), ("train/lr", pytest.approx(0.01))]
    assert events[2].step == 1234567890123 and events[2].summary.value[0].tag == "test/accuracy"
    assert events[3].step == -1


SOLVER = """
base_lr: 0.1 lr_policy: "step" gamma: 0.5 stepsize: 4 display: 2 max_iter: 8
test_iter: 2 test_interval: 4 random_seed: 3 snapshot_after_train: false
net_param {
  name: "tiny"
  layer { name: "data" type: "DummyData" top: "x" top: "y"
          dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 }
                             data_filler { type: "gaussian" } data_filler { type: "gaussian" } } }
  layer { name: "ip" type: "InnerProduct" bottom: "x" top: "ip"
          inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
  layer { name: "loss" type: "EuclideanLoss" bottom: "ip" bottom: "y" top: "loss" }
}
"""


def test_attach_to_solver(tmp_path):
    from caffeine.proto import caffe_pb2
    from caffeine.solvers import get_solver
    solver = get_solver(text_format.Parse(SOLVER, caffe_pb2.SolverParameter()))
    callback = tb.attach_tensorboard(solver, str(tmp_path / "tb"))
    seen = []
    solver.add_callback(lambda: None, lambda: seen.append((solver.iter, solver.smoothed_loss)))
    solver.solve()
    events = read_events(callback.writer.path)[1:]
    train = {e.step: {v.tag: v.simple_value for v in e.summary.value} for e in events
             if e.summary.value[0].tag.startswith("train/")}
    test = [(e.step, {v.tag: v.simple_value for v in e.summary.value}) for e in events
            if e.summary.value[0].tag.startswith("test/")]
    assert sorted(train) == [0, 2, 4, 6]                     # every `display` iterations
    losses = dict(seen)
    for step, values in train.items():
        assert values["train/smoothed_loss"] == pytest.approx(losses[step], rel=1e-6)
        assert values["train/learning_rate"] == pytest.approx(0.1 * 0.5 ** (step // 4))
        assert "train/loss" in values
    assert [step for step, _ in test] == [0, 4, 8]            # each test, incl. initial and final
    assert all(set(v) == {"test/loss"} and np.isfinite(v["test/loss"]) for _, v in test)
    assert test[-1][1]["test/loss"] == pytest.approx(solver.test_results[0]["loss"], rel=1e-6)
