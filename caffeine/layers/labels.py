"""Class labels as Caffe's loss and accuracy layers read them.

Caffe reads a label with ``static_cast<int>(label)`` (truncation toward zero),
skips it when it equals ``ignore_label``, and only DCHECKs the range, so a
release build reads out of bounds on a bad label.  Here a label outside
``[0, num_classes)`` that is not ``ignore_label`` raises a ``DataError`` that
names the layer, the label blob, the position and the value.
"""
import numpy as np

from caffeine.errors import DataError, ShapeError

# Caffe's FLT_MIN floor in SoftmaxWithLoss and kLOG_THRESHOLD (loss_layer.hpp).
FLT_MIN = float(np.finfo(np.float32).tiny)
LOG_THRESHOLD = 1e-20


def ignore_label_of(param):
    """The ``ignore_label`` of a LossParameter/AccuracyParameter, or None when unset."""
    return param.ignore_label if param.HasField("ignore_label") else None


def read_labels(layer, label_blob, num_classes, ignore_label=None):
    """Return ``(labels, valid)``: int64 labels (0 where not valid) and the mask of
    labels that count (not ignored), both flat in the label blob's order."""
    raw = label_blob.host_data_readonly.reshape(-1)
    trunc = np.trunc(raw)
    in_range = (trunc >= 0) & (trunc < num_classes)
    if ignore_label is not None:
        ignored = trunc == ignore_label
        ok = in_range | ignored
        valid = in_range & ~ignored
    else:
        ok = in_range
        valid = in_range
    if not ok.all():
        pos = int(np.flatnonzero(~ok)[0])
        value = raw[pos]
        shown = int(trunc[pos]) if np.isfinite(value) else value
        hint = f" and not ignore_label {ignore_label}" if ignore_label is not None else ""
        where = np.unravel_index(pos, label_blob.shape) if label_blob.shape else ()
        raise layer.error(
            f"bad label {shown} at index {tuple(int(i) for i in where)} of label blob "
            f"'{label_blob.name}': labels must be integers in [0, {num_classes}){hint}",
            cls=DataError, blob=label_blob.name,
            expected=f"0..{num_classes - 1}", found=shown)
    labels = np.where(valid, trunc, 0).astype(np.int64)
    return labels, valid


def check_label_count(layer, outer_num, inner_num, label_blob, axis_name="axis"):
    """Caffe's 'Number of labels must match number of predictions' check."""
    if outer_num * inner_num != label_blob.count():
        raise layer.error(
            f"number of labels must match number of predictions; e.g. if {axis_name} == 1 "
            "and the prediction shape is (N, C, H, W), the label count must be N*H*W "
            f"(label blob '{label_blob.name}' has shape {label_blob.shape})",
            cls=ShapeError, blob=label_blob.name,
            expected=outer_num * inner_num, found=label_blob.count())


def canonical_axis(layer, blob, axis, field):
    """``blob.canonical_axis_index`` with the error naming this layer and field."""
    try:
        return blob.canonical_axis_index(axis)
    except ShapeError as exc:
        raise exc.with_context(layer=layer.name, layer_type=layer.type, field=field)


def label_backprop_error(layer, what="label"):
    """Caffe's LOG(FATAL) '<type> Layer cannot backpropagate to label inputs.'"""
    return layer.error(f"{layer.type} layer cannot backpropagate to {what} inputs")


def prediction_gradient_wanted(layer, propagate_down):
    """A loss layer's backward prologue: propagate_down to the labels (bottom[1]) is an
    error, as in Caffe; True when the predictions (bottom[0]) want a gradient."""
    if propagate_down[1]:
        raise label_backprop_error(layer)
    return bool(propagate_down[0])
