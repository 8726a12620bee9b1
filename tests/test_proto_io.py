"""Reading/writing protobuf files: error messages, truncation, atomic writes."""

import os

import pytest

from caffeine.errors import ConfigError, PrototxtError, SolverError, WeightsError
from caffeine.proto import caffe_pb2
from caffeine.proto import io as pio


def test_syntax_error_reports_file_line_column(tmp_path):
    path = tmp_path / "bad.prototxt"
    path.write_text('name: "x"\nlayer {\n  name: "a"\n  tpye: "ReLU"\n}\n')
    with pytest.raises(PrototxtError) as info:
        pio.read_net_param(path)
    err = info.value
    assert err.file == str(path) and err.line == 4 and err.column == 3
    assert 'no field named "tpye"' in err.message
    assert str(err).startswith(f"{path}:4:3: ")


def test_unclosed_brace_is_a_syntax_error():
    with pytest.raises(PrototxtError) as info:
        pio.parse_net_text('layer {\n  name: "a"\n', source="s.prototxt")
    assert info.value.file == "s.prototxt" and info.value.line is not None


def test_missing_required_field_is_an_error():
    with pytest.raises(PrototxtError, match="clip_param.max"):
        pio.parse_net_text('layer { name: "c" type: "Clip" clip_param { min: 0 } }')


def test_missing_prototxt(tmp_path):
    path = tmp_path / "nope.prototxt"
    with pytest.raises(ConfigError, match="No such file") as info:
        pio.read_net_param(path)
    assert str(path) in str(info.value)


def test_binary_file_given_as_prototxt(tmp_path):
    path = tmp_path / "w.prototxt"
    path.write_bytes(b"\x0a\x05\xff\xfe\x00\x01")
    with pytest.raises(PrototxtError, match="not a text"):
        pio.read_net_param(path)


def test_solver_syntax_error_and_missing(tmp_path):
    path = tmp_path / "solver.prototxt"
    path.write_text("base_lr: 0.01\nmax_iter: ten\n")
    with pytest.raises(SolverError) as info:
        pio.read_solver_param(path)
    assert info.value.line == 2
    with pytest.raises(SolverError, match="No such file"):
        pio.read_solver_param(tmp_path / "missing.prototxt")


def test_solver_read_and_upgrade(tmp_path):
    path = tmp_path / "solver.prototxt"
    path.write_text('net: "train_val.prototxt"\nbase_lr: 0.01\nsolver_type: NESTEROV\n')
    solver = pio.read_solver_param(path)
    assert solver.type == "Nesterov" and solver.base_lr == pytest.approx(0.01)


def _small_net():
    net = caffe_pb2.NetParameter(name="tiny")
    layer = net.layer.add(name="ip", type="InnerProduct", bottom=["x"], top=["y"])
    layer.inner_product_param.num_output = 2
    blob = layer.blobs.add()
    blob.shape.dim.extend([2, 3])
    blob.data.extend(float(i) for i in range(6))
    return net


def test_caffemodel_round_trip(tmp_path):
    path = tmp_path / "tiny.caffemodel"
    pio.write_net_binary(_small_net(), path)
    back = pio.read_net_binary(path)
    assert back == _small_net()
    assert list(back.layer[0].blobs[0].data) == [0, 1, 2, 3, 4, 5]


def test_truncated_caffemodel(tmp_path, shared):
    data = shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel").read_bytes()
    path = tmp_path / "trunc.caffemodel"
    path.write_bytes(data[:100])
    with pytest.raises(WeightsError, match="not a Caffe .caffemodel .* or is truncated"):
        pio.read_net_binary(path)


def test_truncated_own_caffemodel(tmp_path):
    data = _small_net().SerializeToString()
    path = tmp_path / "trunc.caffemodel"
    path.write_bytes(data[:len(data) - 5])
    with pytest.raises(WeightsError, match="truncated"):
        pio.read_net_binary(path)


def test_random_bytes_caffemodel(tmp_path):
    import numpy as np

    path = tmp_path / "random.caffemodel"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(WeightsError, match="not a Caffe .caffemodel"):
        pio.read_net_binary(path)


def test_prototxt_given_as_caffemodel(tmp_path):
    path = tmp_path / "deploy.prototxt"
    path.write_text('name: "x"\nlayer { name: "a" type: "ReLU" }\n')
    with pytest.raises(WeightsError):
        pio.read_net_binary(path)


def test_missing_caffemodel(tmp_path):
    path = tmp_path / "absent.caffemodel"
    with pytest.raises(WeightsError, match="No such file") as info:
        pio.read_net_binary(path)
    assert info.value.file == str(path)


def test_blobproto_round_trip_and_errors(tmp_path):
    blob = caffe_pb2.BlobProto(num=1, channels=3, height=2, width=2)
    blob.data.extend([float(i) for i in range(12)])
    path = tmp_path / "mean.binaryproto"
    pio.write_blobproto(blob, path)
    back = pio.read_blobproto(path)
    assert back == blob and pio.blob_shape(back) == (1, 3, 2, 2)
    path.write_bytes(b"\xff" * 10)
    with pytest.raises(WeightsError, match="binaryproto"):
        pio.read_blobproto(path)
    with pytest.raises(WeightsError, match="No such file"):
        pio.read_blobproto(tmp_path / "none.binaryproto")


def test_solver_state_round_trip(tmp_path):
    state = caffe_pb2.SolverState(iter=7, learned_net="x.caffemodel", current_step=1)
    state.history.add().data.extend([1.0, 2.0])
    path = tmp_path / "x.solverstate"
    pio.write_solver_state(state, path)
    assert pio.read_solver_state(path) == state
    path.write_bytes(b"\x0a\xff\xff\xff")
    with pytest.raises(WeightsError, match="solverstate"):
        pio.read_solver_state(path)


def test_text_write_round_trip(tmp_path):
    path = tmp_path / "net.prototxt"
    pio.write_net_text(_small_net(), path)
    assert pio.read_net_param(path) == _small_net()


def test_atomic_write_replaces_content(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    pio.atomic_write_bytes(path, b"new content")
    assert path.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["f.bin"]
    mode = path.stat().st_mode & 0o777
    assert mode & 0o600 == 0o600


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path):
    path = tmp_path / "model.caffemodel"
    path.write_bytes(b"old weights")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with pio.atomic_open(path) as f:
            f.write(b"half of the new wei")
            raise RuntimeError("disk on fire")
    assert path.read_bytes() == b"old weights"
    assert os.listdir(tmp_path) == ["model.caffemodel"]  # temp file removed


def test_atomic_write_keeps_old_file_when_fsync_fails(tmp_path, monkeypatch):
    path = tmp_path / "model.caffemodel"
    path.write_bytes(b"old weights")

    def failing_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pio.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space left"):
        pio.atomic_write_bytes(path, b"new weights")
    monkeypatch.undo()
    assert path.read_bytes() == b"old weights"
    assert os.listdir(tmp_path) == ["model.caffemodel"]


def test_atomic_write_new_file_absent_on_failure(tmp_path):
    path = tmp_path / "new.bin"
    with pytest.raises(ValueError):
        with pio.atomic_open(path) as f:
            f.write(b"x")
            raise ValueError("stop")
    assert not path.exists() and os.listdir(tmp_path) == []
