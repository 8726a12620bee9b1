"""Loading and saving a Net's learned parameters (Caffe's CopyTrainedLayersFrom,
ToProto, ToHDF5), with a fine-tuning report that Caffe never printed: which
learnable layers were copied, which source layers were ignored, and which layers
were left to their fillers."""
import logging
import os

import numpy as np

from caffeine.blob import blobproto_shape
from caffeine.errors import WeightsError

log = logging.getLogger("caffeine")


def _legacy4(shape):
    shape = tuple(shape)
    return (1,) * (4 - len(shape)) + shape if len(shape) <= 4 else None


def shape_equals(blob_shape, proto):
    """Caffe's Blob::ShapeEquals: legacy num/channels/height/width protos compare as 4-D."""
    src = blobproto_shape(proto)
    if not proto.HasField("shape") and any(proto.HasField(f) for f in ("num", "channels", "height", "width")):
        return _legacy4(blob_shape) == tuple(src)
    return tuple(blob_shape) == tuple(src)


def _proto_array(proto, shape):
    if len(proto.double_data):
        values = np.asarray(proto.double_data, dtype=np.float64)
    else:
        values = np.asarray(proto.data, dtype=np.float32)
    if values.size != int(np.prod(shape, dtype=np.int64)):
        return None
    return values.reshape(shape)


class NetWeightsMixin:
    def copy_from(self, weights):
        """Copy weights from a .caffemodel (binary or HDF5) path, several joined by ',',
        or a NetParameter.  Returns the fine-tuning report."""
        from caffeine.proto import caffe_pb2, io as proto_io
        if isinstance(weights, caffe_pb2.NetParameter):
            return self.copy_trained_layers_from(weights)
        report = None
        for path in str(weights).split(","):
            path = path.strip()
            if path.endswith(".h5"):
                report = self.copy_trained_layers_from_hdf5(path)
            else:
                report = self.copy_trained_layers_from(proto_io.read_net_binary(path), source=path)
        return report

    def copy_trained_layers_from(self, source_param, source=None):
        copied, ignored = [], []
        by_name = dict(zip(self.layer_names, self.layers))
        for src in source_param.layer:
            target = by_name.get(src.name)
            if target is None:
                if len(src.blobs):
                    ignored.append(src.name)
                log.info("Ignoring source layer %s", src.name)
                continue
            if not len(src.blobs) and not target.blobs:
                continue
            log.info("Copying source layer %s", src.name)
            if len(target.blobs) != len(src.blobs):
                raise WeightsError(
                    f"incompatible number of parameter blobs for layer '{src.name}'", file=source,
                    layer=src.name, layer_type=target.type, expected=len(target.blobs), found=len(src.blobs))
            for j, (blob, proto) in enumerate(zip(target.blobs, src.blobs)):
                if not shape_equals(blob.shape, proto):
                    raise WeightsError(
                        f"cannot copy param {j} weights from layer '{src.name}': shape mismatch "
                        f"(source {tuple(blobproto_shape(proto))}, net {blob.shape}). To learn this layer's "
                        "parameters from scratch rather than copying them, rename the layer",
                        file=source, layer=src.name, layer_type=target.type,
                        expected=blob.shape, found=tuple(blobproto_shape(proto)))
                values = _proto_array(proto, blob.shape)
                if values is None:
                    raise WeightsError(f"param {j} of layer '{src.name}' holds the wrong number of values",
                                       file=source, layer=src.name, expected=blob.count(),
                                       found=max(len(proto.data), len(proto.double_data)))
                blob.data[...] = values
            copied.append(src.name)
        return self._finetune_report(copied, ignored, source)

    def _finetune_report(self, copied, ignored, source):
        copied_set = set(copied)
        fresh = [n for n, l in zip(self.layer_names, self.layers) if l.blobs and n not in copied_set]
        for name in fresh:
            log.warning("Layer %s was NOT initialized from %s: it keeps its filler values (new layer)",
                        name, source or "the weights")
        self._log_finetune_table(copied_set, ignored, fresh, source)
        report = {"copied": copied, "ignored": ignored, "new": fresh}
        self.last_copy_report = report
        return report

    def _log_finetune_table(self, copied, ignored, fresh, source):
        """One table of every learnable layer and what happened to it (Caffe printed none)."""
        by_name = dict(zip(self.layer_names, self.layers))
        rows = []
        for name, layer in by_name.items():
            if not layer.blobs:
                continue
            shapes = " ".join("x".join(map(str, b.shape)) for b in layer.blobs)
            lr = [self.params_lr[i] for i, p in enumerate(self.learnable_params) if any(p is b for b in layer.blobs)]
            frozen = " (frozen: lr_mult 0)" if lr and not any(lr) else ""
            status = "copied" if name in copied else "NEW: filler init (not in weights)"
            rows.append((name, layer.type, shapes, status + frozen))
        rows += [(name, "-", "-", "ignored: in weights, not in this net") for name in ignored]
        if not rows:
            return
        widths = [max(len(r[i]) for r in rows + [("layer", "type", "params", "status")]) for i in range(4)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        log.info("Weights from %s, layer by layer:", source or "the given NetParameter")
        log.info(fmt.format("layer", "type", "params", "status"))
        for row in rows:
            log.info(fmt.format(*row))

    def copy_trained_layers_from_hdf5(self, path):
        try:
            import h5py
        except ImportError as exc:
            raise WeightsError(f"reading HDF5 weights needs h5py ({exc})", file=path) from None
        if not os.path.exists(path):
            raise WeightsError("weights file not found", file=path)
        copied, ignored = [], []
        by_name = dict(zip(self.layer_names, self.layers))
        with h5py.File(path, "r") as f:
            if "data" not in f:
                raise WeightsError("not a Caffe HDF5 caffemodel (no 'data' group)", file=path)
            for lname in f["data"]:
                group = f["data"][lname]
                target = by_name.get(lname)
                if target is None:
                    ignored.append(lname)
                    log.info("Ignoring source layer %s", lname)
                    continue
                if len(group) > len(target.blobs):
                    raise WeightsError(f"incompatible number of parameter blobs for layer '{lname}'",
                                       file=path, layer=lname, expected=len(target.blobs), found=len(group))
                owners = {id(p) for p in self.learnable_params}
                for j, blob in enumerate(target.blobs):
                    if str(j) not in group:
                        # Caffe writes only params that own themselves; a shared one is skipped
                        if id(blob) in owners:
                            raise WeightsError(f"layer '{lname}' has no dataset for param {j}", file=path,
                                               layer=lname, expected=len(target.blobs), found=len(group))
                        continue
                    arr = np.asarray(group[str(j)])
                    if arr.shape != blob.shape and _legacy4(arr.shape) != _legacy4(blob.shape):
                        raise WeightsError(f"cannot copy param {j} weights from layer '{lname}': shape mismatch",
                                           file=path, layer=lname, expected=blob.shape, found=arr.shape)
                    blob.data[...] = arr.reshape(blob.shape)
                copied.append(lname)
        return self._finetune_report(copied, ignored, path)

    def share_trained_layers_with(self, other):
        """Make this net's params the same memory as ``other``'s, by layer name (test nets)."""
        theirs = dict(zip(other.layer_names, other.layers))
        for name, layer in zip(self.layer_names, self.layers):
            src = theirs.get(name)
            if src is None or not layer.blobs:
                continue
            if len(src.blobs) != len(layer.blobs):
                raise WeightsError(f"incompatible number of parameter blobs for layer '{name}'",
                                   layer=name, expected=len(layer.blobs), found=len(src.blobs))
            for mine, their in zip(layer.blobs, src.blobs):
                if mine.shape != their.shape:
                    raise WeightsError(f"cannot share weights of layer '{name}': shape mismatch",
                                       layer=name, expected=their.shape, found=mine.shape)
                mine.share_data(their)

    def to_proto(self, write_diff=False):
        from caffeine.proto import caffe_pb2
        param = caffe_pb2.NetParameter()
        param.name = self.name
        for layer in self.layers:
            param.layer.add().CopyFrom(layer.to_proto(write_diff=write_diff))
        return param

    def save(self, path, write_diff=False):
        """Write a binary .caffemodel atomically (temp file + rename)."""
        from caffeine.proto import io as proto_io
        proto_io.atomic_write_bytes(path, self.to_proto(write_diff).SerializeToString())

    def save_hdf5(self, path, write_diff=False):
        """Caffe's Net::ToHDF5 layout (/data/<layer>/<i>), written atomically."""
        from caffeine.solvers.snapshot import HDF5, write_weights
        write_weights(self, path, HDF5, write_diff=write_diff)
