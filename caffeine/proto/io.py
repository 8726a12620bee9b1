"""Read and write Caffe's protobuf files.

* text ``.prototxt`` nets and solvers: protobuf's own ``text_format`` parser;
  a syntax error becomes a :class:`PrototxtError` with file, line and column;
* binary ``.caffemodel`` (NetParameter), ``.solverstate`` (SolverState) and
  ``.binaryproto`` (BlobProto);
* every net read is upgraded from the legacy formats (see ``upgrade.py``), as
  Caffe's ``ReadNetParamsFrom*FileOrDie`` do.

Every file caffeine writes goes through :func:`atomic_write_bytes` (or
:func:`atomic_open`): a crash or error mid-write never leaves a truncated
file under the final name.
"""

import contextlib
import os
import re
import tempfile

from google.protobuf import message as pb_message
from google.protobuf import text_format

from caffeine.errors import ConfigError, PrototxtError, SolverError, WeightsError
from caffeine.proto import caffe_pb2
from caffeine.proto.upgrade import upgrade_net, upgrade_solver

_POSITION_PREFIX = re.compile(r"^\d+:\d+ : ")

# Files are created with the usual 0o666 & ~umask mode, not mkstemp's 0o600.
_UMASK = os.umask(0)
os.umask(_UMASK)


# ---------------------------------------------------------------- atomic writes

@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """Open a temporary file next to ``path``; on success fsync and rename it over ``path``.

    If the ``with`` body raises, the temporary file is removed and ``path``
    keeps its old content (or stays absent).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open mode must be 'wb' or 'w', not {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _fsync_dir(directory):
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temp file, flush, fsync, os.replace)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- reading helpers

def _read_bytes(path, error_cls, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise error_cls(f"No such file ({what})", file=os.fspath(path)) from None
    except IsADirectoryError:
        raise error_cls(f"is a directory, expected a {what} file",
                        file=os.fspath(path)) from None
    except OSError as e:
        raise error_cls(f"cannot read {what}: {e.strerror}", file=os.fspath(path)) from None


def _parse_text(text, msg, source, error_cls=PrototxtError):
    """Parse protobuf text into ``msg`` (cleared first); errors carry line:column."""
    try:
        text_format.Parse(text, msg)
    except text_format.ParseError as e:
        detail = _POSITION_PREFIX.sub("", str(e))
        line, column = e.GetLine(), e.GetColumn()
        raise error_cls(detail, file=source, line=line, column=column) from None
    missing = msg.FindInitializationErrors()
    if missing:
        raise error_cls("missing required field(s): " + ", ".join(missing), file=source)
    return msg


def _decode_text(data, source, what):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PrototxtError(f"not a text {what} (byte {e.start} is not UTF-8; "
                            "is it a binary .caffemodel?)", file=source) from None


# ---------------------------------------------------------------- nets

def parse_net_text(text, source="<string>"):
    """Parse a text NetParameter from a string and upgrade it."""
    net = _parse_text(text, caffe_pb2.NetParameter(), source)
    return upgrade_net(net, source)


def read_net_param(path):
    """Read a ``.prototxt`` NetParameter and upgrade it (V0/V1/input fields)."""
    source = os.fspath(path)
    text = _decode_text(_read_bytes(path, PrototxtError, "net prototxt"), source,
                        "net prototxt")
    return parse_net_text(text, source)


def read_net_binary(path):
    """Read a binary NetParameter (``.caffemodel``) and upgrade it (V1 -> V2)."""
    source = os.fspath(path)
    data = _read_bytes(path, WeightsError, "caffemodel")
    net = caffe_pb2.NetParameter()
    try:
        net.ParseFromString(data)
    except pb_message.DecodeError:
        net = None
    if net is None or (len(net.layer) == 0 and len(net.layers) == 0):
        raise WeightsError(f"{os.path.basename(source)} is not a Caffe .caffemodel "
                           f"(binary NetParameter) or is truncated ({len(data)} bytes)",
                           file=source)
    return upgrade_net(net, source)


def write_net_binary(net_param, path):
    """Write a NetParameter as a binary ``.caffemodel`` (atomically)."""
    atomic_write_bytes(path, _serialize(net_param, path))


def write_net_text(net_param, path):
    """Write a NetParameter as a ``.prototxt`` (atomically)."""
    atomic_write_text(path, text_format.MessageToString(net_param))


def _serialize(msg, path):
    try:
        return msg.SerializeToString()
    except pb_message.EncodeError as e:
        raise ConfigError(f"cannot write {msg.DESCRIPTOR.name}: {e}",
                          file=os.fspath(path)) from None


# ---------------------------------------------------------------- solvers

def parse_solver_text(text, source="<string>"):
    """Parse a text SolverParameter from a string and upgrade it."""
    solver = _parse_text(text, caffe_pb2.SolverParameter(), source)
    return upgrade_solver(solver, source)


def read_solver_param(path):
    """Read a solver ``.prototxt`` and upgrade it (solver_type enum -> type)."""
    source = os.fspath(path)
    text = _decode_text(_read_bytes(path, SolverError, "solver prototxt"), source,
                        "solver prototxt")
    try:
        return parse_solver_text(text, source)
    except PrototxtError as e:
        # A solver file that does not parse is a solver error (same location info).
        raise SolverError(e.message, file=e.file, line=e.line, column=e.column) from None


def write_solver_text(solver_param, path):
    atomic_write_text(path, text_format.MessageToString(solver_param))


def read_solver_state(path):
    """Read a binary SolverState (``.solverstate``)."""
    source = os.fspath(path)
    data = _read_bytes(path, WeightsError, "solverstate")
    state = caffe_pb2.SolverState()
    try:
        state.ParseFromString(data)
    except pb_message.DecodeError:
        raise WeightsError(f"{os.path.basename(source)} is not a Caffe .solverstate "
                           f"(binary SolverState) or is truncated ({len(data)} bytes)",
                           file=source) from None
    return state


def write_solver_state(state, path):
    atomic_write_bytes(path, _serialize(state, path))


# ---------------------------------------------------------------- blobs

def read_blobproto(path):
    """Read a binary BlobProto (``.binaryproto``, e.g. a mean file)."""
    source = os.fspath(path)
    data = _read_bytes(path, WeightsError, "binaryproto")
    blob = caffe_pb2.BlobProto()
    try:
        blob.ParseFromString(data)
    except pb_message.DecodeError:
        blob = None
    if blob is None or not (len(blob.data) or len(blob.double_data)):
        raise WeightsError(f"{os.path.basename(source)} is not a Caffe .binaryproto "
                           f"(BlobProto with data) or is truncated ({len(data)} bytes)",
                           file=source)
    return blob


def write_blobproto(blob_proto, path):
    """Write a BlobProto as a binary ``.binaryproto`` (atomically)."""
    atomic_write_bytes(path, _serialize(blob_proto, path))


def blob_shape(blob_proto):
    """Shape of a BlobProto as Caffe's Blob::FromProto reads it.

    The legacy num/channels/height/width (V1 caffemodels, mean files) win when
    any of them is set; otherwise ``shape.dim``.
    """
    if any(blob_proto.HasField(f) for f in ("num", "channels", "height", "width")):
        return (blob_proto.num, blob_proto.channels, blob_proto.height, blob_proto.width)
    return tuple(blob_proto.shape.dim)
