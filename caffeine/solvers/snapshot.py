"""Snapshot files: weights, solver state and the exact-resume side file.

Formats are Caffe's:

* BINARYPROTO: ``PREFIX_iter_N.caffemodel`` (NetParameter) and
  ``PREFIX_iter_N.solverstate`` (``SolverState{iter, learned_net, history, current_step}``;
  ``history`` holds one BlobProto per learnable param, twice that for AdaDelta/Adam);
* HDF5: ``PREFIX_iter_N.caffemodel.h5`` (groups ``data/<layer>/<i>``, and ``diff/...``
  with snapshot_diff) and ``PREFIX_iter_N.solverstate.h5`` (datasets ``iter``,
  ``learned_net``, ``current_step`` and group ``history/<i>``).

Every file is written atomically (temporary file, fsync, rename), weights first,
then the side file, then the solverstate that references them: an interruption at
any point leaves the previous snapshot untouched and never a half-written file.

The side file ``<solverstate>.rng`` (JSON; Caffe does not have it) stores what Caffe
loses on resume: the global random generator and the position of every layer that
has one: ``get_state()``/``set_state(state)`` when a layer defines them (JSON data),
else a prefetching data layer's ``batches_consumed`` / ``seek(batch)``.  With
it a resumed run continues bit-exactly; without it (a Caffe solverstate) resume works
as in Caffe.
"""
import io as _io
import json
import logging
import os

import numpy as np

from caffeine import backend
from caffeine.errors import WeightsError
from caffeine.proto import caffe_pb2
from caffeine.proto import io as proto_io

log = logging.getLogger("caffeine")

BINARYPROTO = caffe_pb2.SolverParameter.BINARYPROTO
HDF5 = caffe_pb2.SolverParameter.HDF5
EXTRA_SUFFIX = ".rng"
EXTRA_FORMAT = "caffeine-solver-extra"


def filename(prefix, it, extension):
    """Caffe's SnapshotFilename: ``prefix + "_iter_" + iter + extension``."""
    return f"{prefix}_iter_{int(it)}{extension}"


def _h5py():
    try:
        import h5py  # noqa: PLC0415 - optional dependency, only for snapshot_format: HDF5
    except ImportError as exc:
        raise WeightsError("snapshot_format: HDF5 needs h5py (pip install 'caffeine-dl[hdf5]')",
                           field="snapshot_format") from exc
    return h5py


def _write_h5_atomically(path, fill):
    """Build the HDF5 file in memory, then write it with the atomic writer."""
    h5py = _h5py()
    buffer = _io.BytesIO()
    with h5py.File(buffer, "w") as f:
        fill(f)
    proto_io.atomic_write_bytes(path, buffer.getvalue())


def _h5_string(group, name, text):
    """A scalar fixed-length NUL-terminated string, as HDF5's H5LTmake_dataset_string."""
    h5py = _h5py()
    raw = text.encode("utf-8")
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(raw) + 1)
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    group.create_dataset(name, data=np.array(raw + b"\0", dtype=f"S{len(raw) + 1}"),
                         dtype=h5py.Datatype(tid))


# ---- weights ---------------------------------------------------------------------------------

def write_weights(net, path, fmt, write_diff=False):
    """Write the net's params (Caffe's SnapshotToBinaryProto / SnapshotToHDF5)."""
    if fmt == HDF5:
        owners = {id(p) for p in net.learnable_params}

        def fill(f):
            data = f.create_group("data")
            diff = f.create_group("diff") if write_diff else None
            for name, layer in zip(net.layer_names, net.layers):
                layer_data = data.create_group(name)
                layer_diff = diff.create_group(name) if diff is not None else None
                for j, blob in enumerate(layer.blobs):
                    if id(blob) in owners:  # Caffe saves only params that own themselves
                        layer_data.create_dataset(str(j), data=np.asarray(
                            blob.host_data_readonly, dtype=np.float32))
                    if layer_diff is not None:
                        layer_diff.create_dataset(str(j), data=np.asarray(
                            blob.host_diff_readonly, dtype=np.float32))

        _write_h5_atomically(path, fill)
    else:
        proto_io.atomic_write_bytes(path, net.to_proto(write_diff=write_diff).SerializeToString())


def load_weights(net, path):
    """Copy trained layers from a .caffemodel or .caffemodel.h5 into ``net`` (Net.copy_from)."""
    net.copy_from(os.fspath(path))


# ---- solver state ------------------------------------------------------------------------------

def write_state(path, fmt, it, learned_net, current_step, history):
    """Write the solverstate (history: list of Blobs, Caffe's history_ order)."""
    if fmt == HDF5:
        def fill(f):
            f.create_dataset("iter", data=np.array([it], dtype=np.int32))
            _h5_string(f, "learned_net", learned_net)
            f.create_dataset("current_step", data=np.array([current_step], dtype=np.int32))
            group = f.create_group("history")
            for i, blob in enumerate(history):
                group.create_dataset(str(i), data=np.asarray(blob.host_data_readonly,
                                                             dtype=np.float32))

        _write_h5_atomically(path, fill)
        return
    state = caffe_pb2.SolverState()
    state.iter = int(it)
    state.learned_net = learned_net
    state.current_step = int(current_step)
    for blob in history:
        blob.to_proto(proto=state.history.add())
    proto_io.write_solver_state(state, path)


def read_state(path):
    """Read a solverstate (binary, or HDF5 when the name ends with .h5).

    Returns ``(iter, learned_net or None, current_step, [history arrays])``.
    """
    path = os.fspath(path)
    if path.endswith(".h5"):
        h5py = _h5py()
        try:
            f = h5py.File(path, "r")
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot read HDF5 solverstate: {exc}", file=path) from None
        with f:
            try:
                it = int(np.asarray(f["iter"][()]).reshape(-1)[0])
                current_step = int(np.asarray(f["current_step"][()]).reshape(-1)[0])
                learned = None
                if "learned_net" in f:
                    raw = f["learned_net"][()]
                    raw = raw.tobytes() if isinstance(raw, np.ndarray) else raw
                    learned = (raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)).rstrip("\0")
                group = f["history"]
                history = [np.asarray(group[str(i)][()]) for i in range(len(group))]
            except KeyError as exc:
                raise WeightsError(f"not a Caffe HDF5 solverstate (missing {exc})", file=path) from None
        return it, learned, current_step, history
    state = proto_io.read_solver_state(path)
    history = []
    for proto in state.history:
        if len(proto.double_data):
            history.append(np.asarray(proto.double_data, dtype=np.float64))
        else:
            history.append(np.asarray(proto.data, dtype=np.float32))
    learned = state.learned_net if state.HasField("learned_net") else None
    return state.iter, learned, state.current_step, history


def find_learned_net(learned_net, state_path):
    """Locate the weights a solverstate names: as written (relative to the working
    directory, as Caffe), else next to the solverstate, else the solverstate's sibling
    with the same stem (``X.solverstate`` -> ``X.caffemodel``)."""
    candidates = [learned_net]
    state_dir = os.path.dirname(os.path.abspath(state_path))
    if not os.path.isabs(learned_net):
        candidates.append(os.path.join(state_dir, learned_net))
    candidates.append(os.path.join(state_dir, os.path.basename(learned_net)))
    stem = os.path.basename(state_path)
    for ext in (".solverstate.h5", ".solverstate"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            candidates.append(os.path.join(state_dir, stem + (".caffemodel.h5" if ext.endswith(".h5")
                                                              else ".caffemodel")))
            break
    for candidate in candidates:
        if os.path.isfile(candidate):
            if candidate != learned_net:
                log.warning("Solverstate %s names weights %s; using %s", state_path, learned_net,
                            candidate)
            return candidate
    raise WeightsError(f"the weights named by the solverstate were not found: {learned_net}",
                       file=os.fspath(state_path), expected="an existing .caffemodel",
                       found=", ".join(dict.fromkeys(candidates)))


# ---- exact-resume side file ----------------------------------------------------------------------

def _layer_state(layer):
    """A layer's position: its ``get_state()``, else a prefetching data layer's batch index."""
    if callable(getattr(layer, "get_state", None)) and callable(getattr(layer, "set_state", None)):
        return {"state": layer.get_state()}
    if callable(getattr(layer, "seek", None)) and hasattr(layer, "batches_consumed"):
        return {"batch": int(layer.batches_consumed)}
    return None


def _set_layer_state(layer, saved):
    if "state" in saved and callable(getattr(layer, "set_state", None)):
        layer.set_state(saved["state"])
    elif "batch" in saved and callable(getattr(layer, "seek", None)):
        layer.seek(int(saved["batch"]))


def _net_states(net):
    states = {}
    for name, layer in zip(net.layer_names, net.layers):
        saved = _layer_state(layer)
        if saved is not None:
            states[name] = saved
    return states


def capture_extra(it, train_net, test_nets):
    """The random state and the data positions that a Caffe solverstate does not keep."""
    layers = {"train": _net_states(train_net)}
    for i, net in enumerate(test_nets):
        layers[f"test{i}"] = _net_states(net)
    return {"format": EXTRA_FORMAT, "version": 1, "iter": int(it),
            "rng": backend.get_rng_state(), "layers": layers}


def apply_extra(extra, train_net, test_nets):
    backend.set_rng_state(extra["rng"])
    nets = {"train": train_net}
    nets.update({f"test{i}": net for i, net in enumerate(test_nets)})
    for key, states in extra.get("layers", {}).items():
        net = nets.get(key)
        if net is None:
            continue
        layers = dict(zip(net.layer_names, net.layers))
        for name, saved in states.items():
            if name in layers and isinstance(saved, dict):
                _set_layer_state(layers[name], saved)


def write_extra(path, extra):
    try:
        text = json.dumps(extra, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"a layer's get_state() must return JSON data (dict/list/str/int/float/"
                        f"bool/None): {exc}") from exc
    proto_io.atomic_write_text(path, text)


def read_extra(path, it):
    """The side file's content, or None when absent or not matching iteration ``it``."""
    try:
        with open(path, encoding="utf-8") as f:
            extra = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("Ignoring unreadable %s (%s): random state and data positions not restored",
                    path, exc)
        return None
    if not isinstance(extra, dict) or extra.get("format") != EXTRA_FORMAT or extra.get("iter") != it:
        log.warning("Ignoring %s: it does not belong to the iteration-%d solverstate", path, it)
        return None
    return extra
