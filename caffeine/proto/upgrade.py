"""Upgrade legacy Caffe definitions to the current format (Caffe's upgrade_proto).

Caffe has had three net formats:

* V0: ``layers { layer { type: "conv" num_output: 20 kernelsize: 5 ... } }``
  with flat per-layer fields and separate ``padding`` layers;
* V1: ``layers { type: CONVOLUTION blobs_lr: 1 convolution_param { ... } }``
  (``NetParameter.layers``, field 2, enum types);
* V2: ``layer { type: "Convolution" param { lr_mult: 1 } ... }`` (field 100).

plus net-level ``input:``/``input_dim:``/``input_shape:`` fields (now an
``Input`` layer), data-transformation fields inside the data layers' params
(now ``transform_param``), BatchNorm layers that declared three
``param { lr_mult: 0 }``, and the ``solver_type`` enum (now the ``type``
string).  :func:`upgrade_net` and :func:`upgrade_solver` apply the same steps,
in the same order and with the same log lines, as Caffe's
``UpgradeNetAsNeeded`` / ``UpgradeSolverAsNeeded``.  Both work in place and
return the message.  What Caffe aborts on raises :class:`PrototxtError` /
:class:`SolverError`; what Caffe only logs is logged here as a warning.
"""

import logging

from caffeine.errors import PrototxtError, SolverError
from caffeine.proto import caffe_pb2

log = logging.getLogger("caffeine")

V1 = caffe_pb2.V1LayerParameter

# V1 enum type -> V2 type string (Caffe's UpgradeV1LayerType).
V1_LAYER_TYPES = {
    V1.NONE: "",
    V1.ABSVAL: "AbsVal",
    V1.ACCURACY: "Accuracy",
    V1.ARGMAX: "ArgMax",
    V1.BNLL: "BNLL",
    V1.CONCAT: "Concat",
    V1.CONTRASTIVE_LOSS: "ContrastiveLoss",
    V1.CONVOLUTION: "Convolution",
    V1.DECONVOLUTION: "Deconvolution",
    V1.DATA: "Data",
    V1.DROPOUT: "Dropout",
    V1.DUMMY_DATA: "DummyData",
    V1.EUCLIDEAN_LOSS: "EuclideanLoss",
    V1.ELTWISE: "Eltwise",
    V1.EXP: "Exp",
    V1.FLATTEN: "Flatten",
    V1.HDF5_DATA: "HDF5Data",
    V1.HDF5_OUTPUT: "HDF5Output",
    V1.HINGE_LOSS: "HingeLoss",
    V1.IM2COL: "Im2col",
    V1.IMAGE_DATA: "ImageData",
    V1.INFOGAIN_LOSS: "InfogainLoss",
    V1.INNER_PRODUCT: "InnerProduct",
    V1.LRN: "LRN",
    V1.MEMORY_DATA: "MemoryData",
    V1.MULTINOMIAL_LOGISTIC_LOSS: "MultinomialLogisticLoss",
    V1.MVN: "MVN",
    V1.POOLING: "Pooling",
    V1.POWER: "Power",
    V1.RELU: "ReLU",
    V1.SILENCE: "Silence",
    V1.SIGMOID: "Sigmoid",
    V1.SIGMOID_CROSS_ENTROPY_LOSS: "SigmoidCrossEntropyLoss",
    V1.SOFTMAX: "Softmax",
    V1.SOFTMAX_LOSS: "SoftmaxWithLoss",
    V1.SPLIT: "Split",
    V1.SLICE: "Slice",
    V1.TANH: "TanH",
    V1.WINDOW_DATA: "WindowData",
    V1.THRESHOLD: "Threshold",
}

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

# Layer-specific params that V1 and V2 share (copied verbatim by the V1 upgrade).
V1_PARAM_FIELDS = (
    "accuracy_param", "argmax_param", "concat_param", "contrastive_loss_param",
    "convolution_param", "data_param", "dropout_param", "dummy_data_param",
    "eltwise_param", "exp_param", "hdf5_data_param", "hdf5_output_param",
    "hinge_loss_param", "image_data_param", "infogain_loss_param",
    "inner_product_param", "lrn_param", "memory_data_param", "mvn_param",
    "pooling_param", "power_param", "relu_param", "sigmoid_param",
    "softmax_param", "slice_param", "tanh_param", "threshold_param",
    "window_data_param", "transform_param", "loss_param",
)

# V1 data layers whose params used to carry the transformation fields.
V1_DATA_LAYER_PARAMS = {
    V1.DATA: "data_param",
    V1.IMAGE_DATA: "image_data_param",
    V1.WINDOW_DATA: "window_data_param",
}
TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")

SOLVER_TYPES = {
    caffe_pb2.SolverParameter.SGD: "SGD",
    caffe_pb2.SolverParameter.NESTEROV: "Nesterov",
    caffe_pb2.SolverParameter.ADAGRAD: "AdaGrad",
    caffe_pb2.SolverParameter.RMSPROP: "RMSProp",
    caffe_pb2.SolverParameter.ADADELTA: "AdaDelta",
    caffe_pb2.SolverParameter.ADAM: "Adam",
}


# ---------------------------------------------------------------- checks

def net_needs_v0_upgrade(net):
    return any(layer.HasField("layer") for layer in net.layers)


def net_needs_data_upgrade(net):
    for layer in net.layers:
        field = V1_DATA_LAYER_PARAMS.get(layer.type)
        if field is not None:
            param = getattr(layer, field)
            if any(param.HasField(name) for name in TRANSFORM_FIELDS):
                return True
    return False


def net_needs_v1_upgrade(net):
    return len(net.layers) > 0


def net_needs_input_upgrade(net):
    return len(net.input) > 0


def net_needs_batchnorm_upgrade(net):
    return any(layer.type == "BatchNorm" and len(layer.param) == 3
               for layer in net.layer)


def net_needs_upgrade(net):
    """True if any of Caffe's net upgrades applies to ``net``."""
    return (net_needs_v0_upgrade(net) or net_needs_data_upgrade(net)
            or net_needs_v1_upgrade(net) or net_needs_input_upgrade(net)
            or net_needs_batchnorm_upgrade(net))


def solver_needs_upgrade(solver):
    """True if the solver uses the deprecated ``solver_type`` enum."""
    return solver.HasField("solver_type")


# ---------------------------------------------------------------- net

def upgrade_net(net_param, source=None):
    """Upgrade a NetParameter (V0/V1/input fields/BatchNorm) in place; return it.

    ``source`` names the file in log lines and errors.
    """
    source = "<string>" if source is None else str(source)
    if net_needs_v0_upgrade(net_param):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "V0LayerParameter: %s", source)
        ok = _upgrade_v0_net(net_param, source)
        if ok:
            log.info("Successfully upgraded file specified using deprecated "
                     "V0LayerParameter")
        else:
            log.warning("Warning: had one or more problems upgrading "
                        "V0NetParameter to NetParameter (see above); continuing anyway.")
        log.warning("Note that future Caffe releases will not support V0NetParameter; "
                    "use 'caffeine upgrade_net_proto_text' / 'upgrade_net_proto_binary' "
                    "to upgrade this and any other net protos to the new format.")
    if net_needs_data_upgrade(net_param):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "transformation parameters: %s", source)
        _upgrade_data_transformation(net_param)
        log.info("Successfully upgraded file specified using deprecated data "
                 "transformation parameters.")
        log.warning("Note that future Caffe releases will only support transform_param "
                    "messages for transformation fields.")
    if net_needs_v1_upgrade(net_param):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "V1LayerParameter: %s", source)
        ok = _upgrade_v1_net(net_param, source)
        if ok:
            log.info("Successfully upgraded file specified using deprecated "
                     "V1LayerParameter")
        else:
            log.warning("Warning: had one or more problems upgrading "
                        "V1LayerParameter (see above); continuing anyway.")
    if net_needs_input_upgrade(net_param):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "input fields: %s", source)
        _upgrade_net_input(net_param, source)
        log.info("Successfully upgraded file specified using deprecated input fields.")
        log.warning("Note that future Caffe releases will only support input layers "
                    "and not input fields.")
    if net_needs_batchnorm_upgrade(net_param):
        log.info("Attempting to upgrade batch norm layers using deprecated params: %s",
                 source)
        _upgrade_batchnorm(net_param)
        log.info("Successfully upgraded batch norm layers using deprecated params.")
    return net_param


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


def _upgrade_v0_net(net, source):
    _upgrade_v0_padding_layers(net, source)
    ok = True
    upgraded = []
    for conn in net.layers:
        layer = caffe_pb2.V1LayerParameter()
        ok &= _upgrade_v0_layer(conn, layer, source)
        upgraded.append(layer)
    del net.layers[:]
    net.layers.extend(upgraded)
    return ok


def _upgrade_v0_layer(conn, out, source):
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

    def bad(field):
        nonlocal ok
        log.warning("Unknown parameter %s for layer type %s", field, t)
        ok = False

    def has(field):
        return v0.HasField(field)

    owners = {"conv": out.convolution_param, "innerproduct": out.inner_product_param}
    for v0_field, field in (("num_output", "num_output"), ("biasterm", "bias_term")):
        if has(v0_field):
            if t in owners:
                setattr(owners[t], field, getattr(v0, v0_field))
            else:
                bad(v0_field)
    for field in ("weight_filler", "bias_filler"):
        if has(field):
            if t in owners:
                getattr(owners[t], field).CopyFrom(getattr(v0, field))
            else:
                bad(field)
    if has("pad"):
        if t == "conv":
            out.convolution_param.pad.append(v0.pad)
        elif t == "pool":
            out.pooling_param.pad = v0.pad
        else:
            bad("pad")
    if has("kernelsize"):
        if t == "conv":
            out.convolution_param.kernel_size.append(v0.kernelsize)
        elif t == "pool":
            out.pooling_param.kernel_size = v0.kernelsize
        else:
            bad("kernelsize")
    if has("group"):
        if t == "conv":
            out.convolution_param.group = v0.group
        else:
            bad("group")
    if has("stride"):
        if t == "conv":
            out.convolution_param.stride.append(v0.stride)
        elif t == "pool":
            out.pooling_param.stride = v0.stride
        else:
            bad("stride")
    if has("pool"):
        if t == "pool":
            # The V0 and V2 PoolMethod enums have the same values.
            out.pooling_param.pool = v0.pool
        else:
            bad("pool")
    if has("dropout_ratio"):
        if t == "dropout":
            out.dropout_param.dropout_ratio = v0.dropout_ratio
        else:
            bad("dropout_ratio")
    for field in ("local_size", "alpha", "beta", "k"):
        if has(field):
            if t == "lrn":
                setattr(out.lrn_param, field, getattr(v0, field))
            else:
                bad(field)
    source_owners = {"data": out.data_param, "hdf5_data": out.hdf5_data_param,
                     "images": out.image_data_param, "window_data": out.window_data_param,
                     "infogain_loss": out.infogain_loss_param}
    if has("source"):
        if t in source_owners:
            source_owners[t].source = v0.source
        else:
            bad("source")
    if has("scale"):
        out.transform_param.scale = v0.scale
    if has("meanfile"):
        out.transform_param.mean_file = v0.meanfile
    if has("batchsize"):
        batch_owners = {k: v for k, v in source_owners.items() if k != "infogain_loss"}
        if t in batch_owners:
            batch_owners[t].batch_size = v0.batchsize
        else:
            bad("batchsize")
    if has("cropsize"):
        out.transform_param.crop_size = v0.cropsize
    if has("mirror"):
        out.transform_param.mirror = v0.mirror
    if has("rand_skip"):
        if t == "data":
            out.data_param.rand_skip = v0.rand_skip
        elif t == "images":
            out.image_data_param.rand_skip = v0.rand_skip
        else:
            bad("rand_skip")
    for v0_field, v1_field in (("shuffle_images", "shuffle"), ("new_height", "new_height"),
                               ("new_width", "new_width")):
        if has(v0_field):
            if t == "images":
                setattr(out.image_data_param, v1_field, getattr(v0, v0_field))
            else:
                bad(v0_field)
    if has("concat_dim"):
        if t == "concat":
            out.concat_param.concat_dim = v0.concat_dim
        else:
            bad("concat_dim")
    for v0_field, v1_field in (("det_fg_threshold", "fg_threshold"),
                               ("det_bg_threshold", "bg_threshold"),
                               ("det_fg_fraction", "fg_fraction"),
                               ("det_context_pad", "context_pad"),
                               ("det_crop_mode", "crop_mode")):
        if has(v0_field):
            if t == "window_data":
                setattr(out.window_data_param, v1_field, getattr(v0, v0_field))
            else:
                bad(v0_field)
    if has("hdf5_output_param"):
        if t == "hdf5_output":
            out.hdf5_output_param.CopyFrom(v0.hdf5_output_param)
        else:
            bad("hdf5_output_param")
    return ok


def _upgrade_data_transformation(net):
    """Move scale/mean_file/crop_size/mirror of V1 data layers into transform_param."""
    for layer in net.layers:
        field = V1_DATA_LAYER_PARAMS.get(layer.type)
        if field is None:
            continue
        param = getattr(layer, field)
        for name in TRANSFORM_FIELDS:
            if param.HasField(name):
                setattr(layer.transform_param, name, getattr(param, name))
                param.ClearField(name)


def _upgrade_v1_net(net, source):
    if len(net.layer) > 0:
        raise PrototxtError(
            "refusing to upgrade inconsistent NetParameter input: the definition "
            "includes both 'layer' and 'layers' fields; the current format is "
            "layer { type: \"Layer\" ... }, not layers { type: LAYER ... }; "
            "switch the definition to 'layer' format", file=source)
    ok = True
    upgraded = []
    for i, v1 in enumerate(net.layers):
        layer = caffe_pb2.LayerParameter()
        if not _upgrade_v1_layer(v1, layer):
            log.warning("Upgrade of input layer %d failed.", i)
            ok = False
        upgraded.append(layer)
    net.ClearField("layers")
    net.layer.extend(upgraded)
    return ok


def _upgrade_v1_layer(v1, layer):
    """Caffe's UpgradeV1LayerParameter."""
    ok = True
    layer.bottom.extend(v1.bottom)
    layer.top.extend(v1.top)
    if v1.HasField("name"):
        layer.name = v1.name
    layer.include.extend(v1.include)
    layer.exclude.extend(v1.exclude)
    if v1.HasField("type"):
        layer.type = V1_LAYER_TYPES.get(v1.type, "")
    layer.blobs.extend(v1.blobs)

    def param(i):
        while len(layer.param) <= i:
            layer.param.add()
        return layer.param[i]

    for i, name in enumerate(v1.param):
        param(i).name = name
    for i, mode in enumerate(v1.blob_share_mode):
        # V1 and V2 DimCheckMode enums have the same values (STRICT 0, PERMISSIVE 1).
        param(i).share_mode = mode
    for i, lr in enumerate(v1.blobs_lr):
        param(i).lr_mult = lr
    for i, decay in enumerate(v1.weight_decay):
        param(i).decay_mult = decay
    layer.loss_weight.extend(v1.loss_weight)
    for field in V1_PARAM_FIELDS:
        if v1.HasField(field):
            getattr(layer, field).CopyFrom(getattr(v1, field))
    if v1.HasField("layer"):
        log.warning("Input NetParameter has V0 layer -- ignoring.")
        ok = False
    return ok


def _upgrade_net_input(net, source):
    """Turn net-level input / input_shape / input_dim into one Input layer named 'input'.

    As in Caffe: an input listed without shape or dims (legacy caffemodels) is
    simply dropped; the new layer goes first so later layers can use its tops.
    """
    n = len(net.input)
    has_shape = len(net.input_shape) > 0
    has_dim = len(net.input_dim) > 0
    if has_shape and len(net.input_shape) != n:
        raise PrototxtError("each input needs exactly one input_shape", file=source,
                            field="input_shape", expected=f"{n} input_shape",
                            found=len(net.input_shape))
    if not has_shape and has_dim and len(net.input_dim) != 4 * n:
        raise PrototxtError("each input needs exactly four input_dim values "
                            "(num, channels, height, width)", file=source,
                            field="input_dim", expected=f"{4 * n} values",
                            found=len(net.input_dim))
    if has_shape or has_dim:
        layer = caffe_pb2.LayerParameter(name="input", type="Input")
        for i, name in enumerate(net.input):
            layer.top.append(name)
            shape = layer.input_param.shape.add()
            if has_shape:
                shape.CopyFrom(net.input_shape[i])
            else:
                shape.dim.extend(net.input_dim[4 * i:4 * i + 4])
        rest = list(net.layer)
        del net.layer[:]
        net.layer.append(layer)
        net.layer.extend(rest)
    net.ClearField("input")
    net.ClearField("input_shape")
    net.ClearField("input_dim")


def _upgrade_batchnorm(net):
    """Old BatchNorm layers declared three lr_mult 0 params; the layer now manages them."""
    for layer in net.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            layer.ClearField("param")


# ---------------------------------------------------------------- solver

def upgrade_solver(solver_param, source=None):
    """Upgrade the deprecated ``solver_type`` enum to the ``type`` string, in place.

    Inline nets (``net_param``, ``train_net_param``, ``test_net_param``) are
    upgraded too.  Returns ``solver_param``.
    """
    source = "<string>" if source is None else str(source)
    if solver_needs_upgrade(solver_param):
        log.info("Attempting to upgrade input file specified using deprecated "
                 "'solver_type' field (enum)': %s", source)
        if solver_param.HasField("type"):
            raise SolverError("old solver_type field (enum) and new type field (string) "
                              "cannot both be specified", file=source, field="solver_type")
        kind = SOLVER_TYPES.get(solver_param.solver_type)
        if kind is None:
            raise SolverError(f"unknown solver_type {solver_param.solver_type}",
                              file=source, field="solver_type",
                              expected=", ".join(SOLVER_TYPES.values()))
        solver_param.type = kind
        solver_param.ClearField("solver_type")
        log.info("Successfully upgraded file specified using deprecated 'solver_type' "
                 "field (enum) to 'type' field (string).")
        log.warning("Note that future Caffe releases will only support 'type' field "
                    "(string) for a solver's type.")
    nets = []
    if solver_param.HasField("net_param"):
        nets.append(solver_param.net_param)
    if solver_param.HasField("train_net_param"):
        nets.append(solver_param.train_net_param)
    nets.extend(solver_param.test_net_param)
    for net in nets:
        if net_needs_upgrade(net):
            upgrade_net(net, source)
    return solver_param
