"""V1 -> V2 net upgrade (Caffe's UpgradeNetDataTransformation / UpgradeV1Net).

A V1 layer is ``layers { type: CONVOLUTION blobs_lr: 1 convolution_param { ... } }``
(``NetParameter.layers``, field 2, enum types); V2 is ``layer { type: "Convolution"
param { lr_mult: 1 } ... }`` (field 100).  Older V1 data layers also carried the
transformation fields in their own params, where V2 has ``transform_param``.
"""

import logging

from caffeine.errors import PrototxtError
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

# V1 per-blob lists -> the field of the V2 ``param`` message at the same index.  V1 and
# V2 DimCheckMode enums have the same values (STRICT 0, PERMISSIVE 1).
V1_PARAM_SPEC_FIELDS = (
    ("param", "name"),
    ("blob_share_mode", "share_mode"),
    ("blobs_lr", "lr_mult"),
    ("weight_decay", "decay_mult"),
)

# V1 data layers whose params used to carry the transformation fields.
V1_DATA_LAYER_PARAMS = {
    V1.DATA: "data_param",
    V1.IMAGE_DATA: "image_data_param",
    V1.WINDOW_DATA: "window_data_param",
}
TRANSFORM_FIELDS = ("scale", "mean_file", "crop_size", "mirror")


def _legacy_transform_params(net):
    """The params of the net's V1 data layers (where the transformation fields used to be)."""
    for layer in net.layers:
        field = V1_DATA_LAYER_PARAMS.get(layer.type)
        if field is not None:
            yield layer, getattr(layer, field)


def net_needs_data_upgrade(net):
    return any(param.HasField(name) for _, param in _legacy_transform_params(net)
               for name in TRANSFORM_FIELDS)


def upgrade_data_transformation(net, source=None):
    """Move scale/mean_file/crop_size/mirror of V1 data layers into transform_param."""
    for layer, param in _legacy_transform_params(net):
        for name in TRANSFORM_FIELDS:
            if param.HasField(name):
                setattr(layer.transform_param, name, getattr(param, name))
                param.ClearField(name)
    return True


def net_needs_v1_upgrade(net):
    return len(net.layers) > 0


def upgrade_v1_net(net, source):
    """V1 ``layers`` -> V2 ``layer`` in place; False if some layer failed (logged)."""
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
        if not upgrade_v1_layer(v1, layer):
            log.warning("Upgrade of input layer %d failed.", i)
            ok = False
        upgraded.append(layer)
    net.ClearField("layers")
    net.layer.extend(upgraded)
    return ok


def upgrade_v1_layer(v1, layer):
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
    for v1_field, spec_field in V1_PARAM_SPEC_FIELDS:
        for i, value in enumerate(getattr(v1, v1_field)):
            while len(layer.param) <= i:
                layer.param.add()
            setattr(layer.param[i], spec_field, value)
    layer.loss_weight.extend(v1.loss_weight)
    for field in V1_PARAM_FIELDS:
        if v1.HasField(field):
            getattr(layer, field).CopyFrom(getattr(v1, field))
    if v1.HasField("layer"):
        log.warning("Input NetParameter has V0 layer -- ignoring.")
        ok = False
    return ok
