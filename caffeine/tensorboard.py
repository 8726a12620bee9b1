"""TensorBoard event files from training, without TensorFlow.

``attach_tensorboard(solver, logdir)`` (what `caffeine train --tensorboard DIR` calls) writes
``DIR/events.out.tfevents.<time>.<host>.caffeine``: the training loss (smoothed as in the
log), the learning rate and every train-net output at each `display` iteration, and every
test-net output after each test.

The file is TFRecord framing around ``tensorflow.Event`` protos, encoded here by hand so no
TensorFlow or TensorBoard package is needed:

    record = uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
    masked_crc(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8   (mod 2**32), crc = CRC-32C(x)

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary { repeated Value value = 1; }   Value { string tag = 1; float simple_value = 2; }
"""
import os
import socket
import struct
import time

import numpy as np

from caffeine.proto import wire

# ---- CRC-32C (Castagnoli), reflected polynomial 0x82F63B78 ---------------------------------------
_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---- Event/Summary records in protobuf's wire format (caffeine.proto.wire) -------------------
def encode_scalar_value(tag, value):
    """Summary.Value{tag, simple_value}."""
    return wire.length_delimited(1, tag.encode("utf-8")) + wire.key(2, 5) + struct.pack("<f", float(value))


def encode_event(wall_time, step=0, file_version=None, scalars=None):
    """Event{wall_time, step, file_version | summary{value*}}."""
    out = wire.key(1, 1) + struct.pack("<d", float(wall_time))
    if step:
        out += wire.key(2, 0) + wire.varint(int(step))
    if file_version is not None:
        out += wire.length_delimited(3, file_version.encode("utf-8"))
    if scalars:
        summary = b"".join(wire.length_delimited(1, encode_scalar_value(t, v)) for t, v in scalars)
        out += wire.length_delimited(5, summary)
    return out


def frame_record(data):
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


class EventWriter:
    """Appends Event records to a new events file in `logdir`."""

    def __init__(self, logdir, suffix=".caffeine"):
        os.makedirs(logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}{suffix}"
        self.path = os.path.join(logdir, name)
        self._file = open(self.path, "wb")
        self._write(encode_event(time.time(), file_version="brain.Event:2"))

    def _write(self, event_bytes):
        if self._file.closed:               # written to again after close(): append
            self._file = open(self.path, "ab")
        self._file.write(frame_record(event_bytes))

    def add_scalars(self, step, scalars, wall_time=None):
        """scalars: iterable of (tag, value); non-finite values are written as they are."""
        scalars = [(t, float(v)) for t, v in scalars]
        if scalars:
            self._write(encode_event(time.time() if wall_time is None else wall_time, step, scalars=scalars))
            self._file.flush()

    def add_scalar(self, tag, value, step, wall_time=None):
        self.add_scalars(step, [(tag, value)], wall_time)

    def flush(self):
        if not self._file.closed:
            self._file.flush()

    def close(self):
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def _output_scalars(prefix, outputs):
    """(tag, value) for each element of each output: `prefix/name` or `prefix/name/k`."""
    pairs = []
    for name, value in outputs.items():
        flat = np.ravel(np.asarray(value, dtype=np.float64))
        if flat.size == 1:
            pairs.append((f"{prefix}/{name}", flat[0]))
        else:
            pairs.extend((f"{prefix}/{name}/{k}", v) for k, v in enumerate(flat))
    return pairs


class TensorBoardCallback:
    """Solver callback (pycaffe's add_callback protocol: on_start / on_gradients_ready)."""

    def __init__(self, solver, writer, every=None):
        self.solver = solver
        self.writer = writer
        self.every = every if every is not None else (solver.param.display or 1)

    def on_start(self):
        pass

    def _learning_rate(self):
        try:
            from caffeine.solvers import lr_policies
            return lr_policies.learning_rate(self.solver.param, self.solver.iter, self.solver.current_step)[0]
        except Exception:   # a custom solver without Caffe's policies: the last applied rate
            return getattr(self.solver, "learning_rate", float("nan"))

    def on_gradients_ready(self):
        """Called after forward/backward, before the update of iteration solver.iter."""
        s = self.solver
        if s.iter % self.every:
            return
        net = s.net
        outputs = {name: net.blobs[name].host_data_readonly for name in net.output_blob_names}
        scalars = [("train/smoothed_loss", s.smoothed_loss), ("train/learning_rate", self._learning_rate())]
        scalars += _output_scalars("train", outputs)
        self.writer.add_scalars(s.iter, scalars)

    def on_test(self, results):
        for i, values in enumerate(results):
            if values:
                prefix = "test" if len(results) == 1 else f"test{i}"
                self.writer.add_scalars(self.solver.iter, _output_scalars(prefix, values))


def attach_tensorboard(solver, logdir, every=None):
    """Write the solver's training and test scalars to TensorBoard event files in `logdir`.

    Returns the callback (its ``writer.path`` is the events file)."""
    writer = EventWriter(logdir)
    callback = TensorBoardCallback(solver, writer, every)
    solver.add_callback(callback)
    test_all = solver.test_all
    solve = solver.solve

    def test_all_and_log(*args, **kwargs):
        results = test_all(*args, **kwargs)
        if not getattr(solver, "requested_early_exit", False):
            callback.on_test(results)
        return results

    def solve_and_close(*args, **kwargs):
        try:
            return solve(*args, **kwargs)
        finally:
            writer.close()      # reopened for appending if the solver is stepped again

    solver.test_all = test_all_and_log
    solver.solve = solve_and_close
    return callback
