"""The explicit layer registry.

``CATALOG`` maps every Caffe layer type string to the module in this package that
implements it; the module registers its class with ``@register_layer("Type")``.
Modules are imported on first use, so ``import caffeine`` stays fast.
"""
import difflib
import importlib

from caffeine.errors import LayerConfigError

CATALOG = {
    # data and inputs
    "Input": "input", "DummyData": "dummy_data", "Data": "data", "ImageData": "image_data",
    "HDF5Data": "hdf5_data", "HDF5Output": "hdf5_output", "MemoryData": "memory_data",
    "WindowData": "window_data", "Parameter": "parameter", "Python": "python",
    # vision
    "Convolution": "convolution", "Deconvolution": "deconvolution", "Pooling": "pooling",
    "SPP": "spp", "Im2col": "im2col", "LRN": "lrn", "InnerProduct": "inner_product",
    "Embed": "embed", "BatchNorm": "batch_norm", "MVN": "mvn", "Scale": "scale", "Bias": "bias",
    # neurons
    "ReLU": "relu", "Sigmoid": "sigmoid", "TanH": "tanh", "Dropout": "dropout", "AbsVal": "absval",
    "BNLL": "bnll", "Clip": "clip", "ELU": "elu", "Exp": "exp", "Log": "log", "Power": "power",
    "PReLU": "prelu", "Swish": "swish", "Threshold": "threshold",
    # losses and outputs
    "Softmax": "softmax", "SoftmaxWithLoss": "softmax_loss", "Accuracy": "accuracy",
    "ArgMax": "argmax", "EuclideanLoss": "euclidean_loss", "HingeLoss": "hinge_loss",
    "InfogainLoss": "infogain_loss", "MultinomialLogisticLoss": "multinomial_logistic_loss",
    "SigmoidCrossEntropyLoss": "sigmoid_cross_entropy_loss", "ContrastiveLoss": "contrastive_loss",
    # structure
    "Concat": "concat", "Slice": "slice", "Split": "split", "Flatten": "flatten",
    "Reshape": "reshape", "Crop": "crop", "Tile": "tile", "Eltwise": "eltwise",
    "Reduction": "reduction", "Silence": "silence", "Filter": "filter",
    "BatchReindex": "batch_reindex",
    # recurrent
    "RNN": "rnn", "LSTM": "lstm",
}

_REGISTRY = {}


def register_layer(type_name):
    """Class decorator: ``@register_layer("Convolution")``."""

    def decorate(cls):
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            raise RuntimeError(f"layer type {type_name} registered twice")
        cls.type = type_name
        _REGISTRY[type_name] = cls
        return cls

    return decorate


def _suggest(type_name):
    close = difflib.get_close_matches(type_name, list(CATALOG), n=1, cutoff=0.5)
    if not close:
        lowered = {t.lower(): t for t in CATALOG}
        if type_name.lower() in lowered:
            close = [lowered[type_name.lower()]]
    return close[0] if close else None


def get_layer_class(type_name, layer_name=None):
    cls = _REGISTRY.get(type_name)
    if cls is not None:
        return cls
    module = CATALOG.get(type_name)
    if module is None:
        hint = _suggest(type_name)
        msg = f"unknown layer type '{type_name}'"
        if hint:
            msg += f"; did you mean '{hint}'?"
        msg += " Known types: " + ", ".join(sorted(CATALOG))
        raise LayerConfigError(msg, layer=layer_name, field="type")
    try:
        importlib.import_module(f"caffeine.layers.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"caffeine.layers.{module}":
            raise LayerConfigError(f"layer type '{type_name}' is not implemented yet in caffeine",
                                   layer=layer_name, field="type") from None
        raise
    cls = _REGISTRY.get(type_name)
    if cls is None:
        raise RuntimeError(f"caffeine.layers.{module} does not register layer type {type_name}")
    return cls


def create_layer(layer_param, phase=None):
    """Caffe's LayerRegistry::CreateLayer."""
    cls = get_layer_class(layer_param.type, layer_param.name)
    return cls(layer_param, phase)


def layer_types():
    """Every layer type with its implementation status: {type: {"cpu": bool, "gpu": bool}}."""
    status = {}
    for type_name in sorted(CATALOG):
        try:
            cls = get_layer_class(type_name)
            status[type_name] = {"cpu": True, "gpu": bool(getattr(cls, "has_gpu_kernel", False))}
        except LayerConfigError:
            status[type_name] = {"cpu": False, "gpu": False}
    return status


def __getattr__(name):
    """pycaffe's ``L``: ``caffeine.layers.Convolution(bottom, ...)`` builds a NetSpec layer.

    Layer type names are CamelCase; the implementation modules in this package are
    lower-case, so the two never collide.
    """
    if name[:1].isupper():
        from caffeine.net_spec import layers as netspec_layers
        return getattr(netspec_layers, name)
    raise AttributeError(f"module 'caffeine.layers' has no attribute '{name}'")
