"""V0 -> V1 net upgrade (Caffe's UpgradeV0Net / UpgradeV0LayerParameter).

A V0 layer is ``layers { layer { type: "conv" num_output: 20 kernelsize: 5 ... } }``:
flat per-layer fields that V1 moved into the layer type's own ``*_param`` message,
and separate ``padding`` layers that V1 folds into the pad of the layer they feed.
"""

import logging

from caffeine.errors import PrototxtError
from caffeine.proto import caffe_pb2

log = logging.getLogger("caffeine")

V1 = caffe_pb2.V1LayerParameter

# V0 type string -> V1 enum (Caffe's UpgradeV0LayerType).
V0_LAYER_TYPES = {
    "accuracy": V1.ACCURACY,
    "bnll": V1.BNLL,
    "concat": V1.CONCAT,
    "conv": V1.CONVOLUTION,
    "data": V1.DATA,
    "dropout": V1.DROPOUT,
    "euclidean_loss": V1.EUCLIDEAN_LOSS,
    "flatten": V1.FLATTEN,
    "hdf5_data": V1.HDF5_DATA,
    "hdf5_output": V1.HDF5_OUTPUT,
    "im2col": V1.IM2COL,
    "images": V1.IMAGE_DATA,
    "infogain_loss": V1.INFOGAIN_LOSS,
    "innerproduct": V1.INNER_PRODUCT,
    "lrn": V1.LRN,
    "multinomial_logistic_loss": V1.MULTINOMIAL_LOGISTIC_LOSS,
    "pool": V1.POOLING,
    "relu": V1.RELU,
    "sigmoid": V1.SIGMOID,
    "softmax": V1.SOFTMAX,
    "softmax_loss": V1.SOFTMAX_LOSS,
    "split": V1.SPLIT,
    "tanh": V1.TANH,
    "window_data": V1.WINDOW_DATA,
}

# Which V0 layer types own a field, and the V1 message that takes it over.  ANY_TYPE:
# every type (the transformation fields); "" names the V1 layer itself.
ANY_TYPE = "*"
_CONV_IP = {"conv": "convolution_param", "innerproduct": "inner_product_param"}
_CONV_POOL = {"conv": "convolution_param", "pool": "pooling_param"}
_DATA = {"data": "data_param", "hdf5_data": "hdf5_data_param", "images": "image_data_param",
         "window_data": "window_data_param"}
_IMAGES = {"images": "image_data_param"}
_WINDOW = {"window_data": "window_data_param"}
_TRANSFORM = {ANY_TYPE: "transform_param"}

# (V0 field, V1 field, owners), in the order Caffe's UpgradeV0LayerParameter checks them
# (the order of its "Unknown parameter" warnings).  A V1 field that is repeated gets
# the value appended (Convolution's pad/kernel_size/stride); a message is copied.
V0_FIELDS = (
    ("num_output", "num_output", _CONV_IP),
    ("biasterm", "bias_term", _CONV_IP),
    ("weight_filler", "weight_filler", _CONV_IP),
    ("bias_filler", "bias_filler", _CONV_IP),
    ("pad", "pad", _CONV_POOL),
    ("kernelsize", "kernel_size", _CONV_POOL),
    ("group", "group", {"conv": "convolution_param"}),
    ("stride", "stride", _CONV_POOL),
    # The V0 and V2 PoolMethod enums have the same values.
    ("pool", "pool", {"pool": "pooling_param"}),
    ("dropout_ratio", "dropout_ratio", {"dropout": "dropout_param"}),
    ("local_size", "local_size", {"lrn": "lrn_param"}),
    ("alpha", "alpha", {"lrn": "lrn_param"}),
    ("beta", "beta", {"lrn": "lrn_param"}),
    ("k", "k", {"lrn": "lrn_param"}),
    ("source", "source", {**_DATA, "infogain_loss": "infogain_loss_param"}),
    ("scale", "scale", _TRANSFORM),
    ("meanfile", "mean_file", _TRANSFORM),
    ("batchsize", "batch_size", _DATA),
    ("cropsize", "crop_size", _TRANSFORM),
    ("mirror", "mirror", _TRANSFORM),
    ("rand_skip", "rand_skip", {"data": "data_param", "images": "image_data_param"}),
    ("shuffle_images", "shuffle", _IMAGES),
    ("new_height", "new_height", _IMAGES),
    ("new_width", "new_width", _IMAGES),
    ("concat_dim", "concat_dim", {"concat": "concat_param"}),
    ("det_fg_threshold", "fg_threshold", _WINDOW),
    ("det_bg_threshold", "bg_threshold", _WINDOW),
    ("det_fg_fraction", "fg_fraction", _WINDOW),
    ("det_context_pad", "context_pad", _WINDOW),
    ("det_crop_mode", "crop_mode", _WINDOW),
    ("hdf5_output_param", "hdf5_output_param", {"hdf5_output": ""}),
)


def net_needs_v0_upgrade(net):
    return any(layer.HasField("layer") for layer in net.layers)


def upgrade_v0_net(net, source):
    """V0 layers -> V1 layers in place; False if some field had no home (logged)."""
    _upgrade_v0_padding_layers(net, source)
    ok = True
    upgraded = []
    for conn in net.layers:
        layer = caffe_pb2.V1LayerParameter()
        ok &= upgrade_v0_layer(conn, layer, source)
        upgraded.append(layer)
    del net.layers[:]
    net.layers.extend(upgraded)
    return ok


def _upgrade_v0_padding_layers(net, source):
    """Fold V0 ``padding`` layers into the pad of the conv/pool layer they feed."""
    old = list(net.layers)
    last_top = {name: -1 for name in net.input}  # blob -> index of its last producer
    kept = []
    for i, conn in enumerate(old):
        v0 = conn.layer
        new = None
        if v0.type != "padding":
            new = caffe_pb2.V1LayerParameter()
            new.CopyFrom(conn)
            kept.append(new)
        for j, blob in enumerate(conn.bottom):
            if blob not in last_top:
                raise PrototxtError(f"unknown blob input '{blob}' to V0 layer {i}",
                                    file=source, layer=v0.name or None, blob=blob)
            src = last_top[blob]
            if src == -1 or old[src].layer.type != "padding":
                continue
            pad_layer = old[src]
            # Caffe only defines a padding layer feeding one conv/pool layer.
            if v0.type not in ("conv", "pool"):
                raise PrototxtError(
                    f"padding layer input to non-convolutional / non-pooling layer "
                    f"type {v0.type}", file=source, layer=v0.name or None)
            if len(conn.bottom) != 1 or len(pad_layer.bottom) != 1 or len(pad_layer.top) != 1:
                raise PrototxtError("padding and the layer it pads must have exactly one "
                                    "bottom and one top", file=source,
                                    layer=v0.name or None)
            new.layer.pad = pad_layer.layer.pad
            new.bottom[j] = pad_layer.bottom[0]
        for blob in conn.top:
            last_top[blob] = i
    del net.layers[:]
    net.layers.extend(kept)


def upgrade_v0_layer(conn, out, source):
    """Caffe's UpgradeV0LayerParameter: flat V0 fields -> V1 layer + *_param."""
    out.bottom.extend(conn.bottom)
    out.top.extend(conn.top)
    if not conn.HasField("layer"):
        return True
    v0 = conn.layer
    ok = True
    t = v0.type
    if v0.HasField("name"):
        out.name = v0.name
    if v0.HasField("type"):
        if t not in V0_LAYER_TYPES:
            raise PrototxtError(f"unknown V0 layer type '{t}'", file=source,
                                layer=v0.name or None,
                                expected=", ".join(sorted(V0_LAYER_TYPES)), found=t)
        out.type = V0_LAYER_TYPES[t]
    out.blobs.extend(v0.blobs)
    out.blobs_lr.extend(v0.blobs_lr)
    out.weight_decay.extend(v0.weight_decay)
    for v0_field, v1_field, owners in V0_FIELDS:
        if not v0.HasField(v0_field):
            continue
        owner = owners.get(t, owners.get(ANY_TYPE))
        if owner is None:
            log.warning("Unknown parameter %s for layer type %s", v0_field, t)
            ok = False
            continue
        _set(getattr(out, owner) if owner else out, v1_field, getattr(v0, v0_field))
    return ok


def _set(msg, name, value):
    """msg.name = value, where the field may be repeated (append) or a message (copy)."""
    field = msg.DESCRIPTOR.fields_by_name[name]
    if field.message_type is not None:
        getattr(msg, name).CopyFrom(value)
    elif field.is_repeated:
        getattr(msg, name).append(value)
    else:
        setattr(msg, name, value)
