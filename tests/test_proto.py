"""caffe.proto / caffe_pb2: matches the committed schema and Caffe's field numbers."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from caffeine.proto import caffe_pb2

ROOT = Path(__file__).resolve().parent.parent


def _file_descriptor_bytes(module):
    fdp = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(fdp)
    return fdp.SerializeToString(deterministic=True)


def test_committed_pb2_matches_proto(tmp_path):
    if importlib.util.find_spec("grpc_tools") is None:
        pytest.skip("grpcio-tools not installed: cannot regenerate caffe_pb2")
    # A subprocess, so the regenerated module registers in its own descriptor pool.
    code = (
        "import sys, importlib.util\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from tools.gen_proto import generate\n"
        "out = generate(sys.argv[2])\n"
        "spec = importlib.util.spec_from_file_location('regen_caffe_pb2', out)\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "from google.protobuf import descriptor_pb2\n"
        "fdp = descriptor_pb2.FileDescriptorProto(); mod.DESCRIPTOR.CopyToProto(fdp)\n"
        "sys.stdout.buffer.write(fdp.SerializeToString(deterministic=True))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path)],
                            capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "caffe_pb2.py").exists()
    assert result.stdout == _file_descriptor_bytes(caffe_pb2), (
        "caffeine/proto/caffe_pb2.py is stale: run `python tools/gen_proto.py`")


def _number(message, field):
    return message.DESCRIPTOR.fields_by_name[field].number


@pytest.mark.parametrize("message, field, number", [
    (caffe_pb2.BlobShape, "dim", 1),
    (caffe_pb2.BlobProto, "shape", 7),
    (caffe_pb2.BlobProto, "data", 5),
    (caffe_pb2.BlobProto, "diff", 6),
    (caffe_pb2.BlobProto, "double_data", 8),
    (caffe_pb2.BlobProto, "double_diff", 9),
    (caffe_pb2.BlobProto, "num", 1),
    (caffe_pb2.BlobProto, "width", 4),
    (caffe_pb2.Datum, "channels", 1),
    (caffe_pb2.Datum, "height", 2),
    (caffe_pb2.Datum, "width", 3),
    (caffe_pb2.Datum, "data", 4),
    (caffe_pb2.Datum, "label", 5),
    (caffe_pb2.Datum, "float_data", 6),
    (caffe_pb2.Datum, "encoded", 7),
    (caffe_pb2.NetParameter, "layer", 100),
    (caffe_pb2.NetParameter, "layers", 2),
    (caffe_pb2.NetParameter, "input", 3),
    (caffe_pb2.NetParameter, "input_dim", 4),
    (caffe_pb2.NetParameter, "input_shape", 8),
    (caffe_pb2.SolverParameter, "base_lr", 5),
    (caffe_pb2.SolverParameter, "net", 24),
    (caffe_pb2.SolverParameter, "solver_type", 30),
    (caffe_pb2.SolverParameter, "type", 40),
    (caffe_pb2.SolverParameter, "layer_wise_reduce", 41),
    (caffe_pb2.SolverState, "history", 3),
    (caffe_pb2.LayerParameter, "convolution_param", 106),
    (caffe_pb2.LayerParameter, "transform_param", 100),
    (caffe_pb2.LayerParameter, "batch_norm_param", 139),
    (caffe_pb2.LayerParameter, "input_param", 143),
    (caffe_pb2.LayerParameter, "recurrent_param", 146),
    (caffe_pb2.LayerParameter, "swish_param", 147),
    (caffe_pb2.LayerParameter, "clip_param", 148),
    (caffe_pb2.V1LayerParameter, "layer", 1),
    (caffe_pb2.V1LayerParameter, "type", 5),
    (caffe_pb2.V1LayerParameter, "blobs_lr", 7),
    (caffe_pb2.V1LayerParameter, "param", 1001),
    (caffe_pb2.V1LayerParameter, "convolution_param", 10),
    (caffe_pb2.V1LayerParameter, "transform_param", 36),
    (caffe_pb2.V0LayerParameter, "kernelsize", 8),
    (caffe_pb2.V0LayerParameter, "hdf5_output_param", 1001),
    (caffe_pb2.ConvolutionParameter, "dilation", 18),
    (caffe_pb2.PoolingParameter, "global_pooling", 12),
])
def test_field_numbers_match_caffe(message, field, number):
    assert _number(message, field) == number


def test_enums_and_defaults_match_caffe():
    assert caffe_pb2.V1LayerParameter.CONVOLUTION == 4
    assert caffe_pb2.V1LayerParameter.SOFTMAX_LOSS == 21
    assert caffe_pb2.V1LayerParameter.DECONVOLUTION == 39
    assert caffe_pb2.SolverParameter.ADAM == 5
    assert caffe_pb2.TRAIN == 0 and caffe_pb2.TEST == 1
    assert caffe_pb2.LossParameter.VALID == 1
    assert caffe_pb2.NetState().phase == caffe_pb2.TEST
    solver = caffe_pb2.SolverParameter()
    assert solver.type == "SGD" and solver.solver_mode == solver.GPU
    assert solver.random_seed == -1 and solver.clip_gradients == -1
    assert solver.momentum2 == pytest.approx(0.999)
    assert caffe_pb2.FillerParameter().type == "constant"
    assert caffe_pb2.ParamSpec().lr_mult == 1.0
    assert caffe_pb2.DataParameter().backend == caffe_pb2.DataParameter.LEVELDB
    assert caffe_pb2.ConvolutionParameter().bias_term is True
    assert caffe_pb2.BatchNormParameter().eps == pytest.approx(1e-5)
    assert caffe_pb2.SwishParameter().beta == 1.0


def test_datum_round_trip():
    datum = caffe_pb2.Datum(channels=3, height=2, width=2, label=7,
                            data=bytes(range(12)))
    raw = datum.SerializeToString()
    # Wire bytes of a Caffe Datum: field 1 varint 3, field 2 varint 2, ...
    assert raw.startswith(b"\x08\x03\x10\x02\x18\x02\x22\x0c")
    back = caffe_pb2.Datum.FromString(raw)
    assert back == datum and back.data == bytes(range(12)) and not back.encoded


def test_blobproto_round_trip():
    blob = caffe_pb2.BlobProto()
    blob.shape.dim.extend([2, 3])
    blob.data.extend([0.5, -1.0, 2.0, 3.0, 4.0, 5.0])
    blob.double_diff.extend([1e-300])
    back = caffe_pb2.BlobProto.FromString(blob.SerializeToString())
    assert list(back.shape.dim) == [2, 3]
    assert list(back.data) == [0.5, -1.0, 2.0, 3.0, 4.0, 5.0]
    assert list(back.double_diff) == [1e-300]
    assert not back.HasField("num")
