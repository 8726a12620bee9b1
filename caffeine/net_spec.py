"""Write nets in Python: pycaffe's NetSpec, ``layers`` (L), ``params`` (P), ``to_proto``.

    from caffeine import layers as L, params as P, NetSpec
    n = NetSpec()
    n.data, n.label = L.Data(source="train_lmdb", backend=P.Data.LMDB, batch_size=64, ntop=2)
    n.conv1 = L.Convolution(n.data, kernel_size=5, num_output=20, weight_filler=dict(type="xavier"))
    n.pool1 = L.Pooling(n.conv1, kernel_size=2, stride=2, pool=P.Pooling.MAX)
    n.loss = L.SoftmaxWithLoss(n.pool1, n.label)
    print(n.to_proto())

Semantics follow pycaffe: a keyword names a field of the layer's own ``<type>_param``
message when it has one (``kernel_size`` -> ``convolution_param.kernel_size``), a
keyword ending in ``param`` names that LayerParameter field (``param=[dict(lr_mult=1)]``,
``transform_param=dict(scale=0.1)``), and anything else is a LayerParameter field
(``loss_weight``, ``include``, ``propagate_down``).  ``ntop=N`` makes N tops (0 for
none), ``in_place=True`` writes the top over the bottom.  Tops are named after the
NetSpec attribute they are assigned to; a layer is named after its first top;
anonymous tops get ``<Type><count>`` names.
"""
from collections import Counter, OrderedDict

from caffeine.errors import ConfigError


def _pb2():
    from caffeine.proto import caffe_pb2
    return caffe_pb2


def param_name_dict():
    """Layer type -> prefix of its parameter field, from the proto itself:
    'Convolution' -> 'convolution' (the field ``convolution_param`` of type ConvolutionParameter)."""
    pb2 = _pb2()
    mapping = {}
    for field in pb2.LayerParameter.DESCRIPTOR.fields:
        if field.name.endswith("_param") and field.message_type is not None:
            type_name = field.message_type.name
            if type_name.endswith("Parameter"):
                mapping[type_name[: -len("Parameter")]] = field.name[: -len("_param")]
    return mapping


_PARAM_NAMES = None


def _param_names():
    global _PARAM_NAMES
    if _PARAM_NAMES is None:
        _PARAM_NAMES = param_name_dict()
    return _PARAM_NAMES


def assign_proto(proto, name, value):
    """Set ``proto.name = value`` where value may be a scalar, list, dict or list of dicts."""
    try:
        field = getattr(proto, name)
    except AttributeError:
        raise ConfigError(f"{type(proto).__name__} has no field '{name}'", field=name) from None
    descriptor = proto.DESCRIPTOR.fields_by_name[name]
    repeated = descriptor.is_repeated
    if repeated and not isinstance(value, (list, tuple)):
        value = [value]
    if isinstance(value, (list, tuple)):
        if not repeated:
            raise ConfigError(f"field '{name}' of {type(proto).__name__} is not repeated",
                              field=name, expected="a single value", found=value)
        for item in value:
            if isinstance(item, dict):
                sub = field.add()
                for k, v in item.items():
                    assign_proto(sub, k, v)
            else:
                field.append(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            assign_proto(field, k, v)
    else:
        try:
            setattr(proto, name, value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad value for field '{name}': {exc}", field=name, found=value) from None


class Top:
    """One output of a Function (a layer call); becomes a top blob name."""

    def __init__(self, fn, n):
        self.fn = fn
        self.n = n

    def to_proto(self):
        """A NetParameter holding every layer needed to compute this top."""
        return to_proto(self)

    def _to_proto(self, layers, names, autonames):
        return self.fn._to_proto(layers, names, autonames)


class Function:
    """A layer call: type, input Tops and keyword parameters."""

    def __init__(self, type_name, inputs, params):
        self.type_name = type_name
        for i, item in enumerate(inputs):
            if not isinstance(item, Top):
                raise TypeError(f"{type_name} input {i} is not a Top (got {type(item).__name__}); "
                                "pass tops made by layers, not names")
        self.inputs = tuple(inputs)
        self.params = dict(params)
        self.ntop = self.params.pop("ntop", 1)
        self.in_place = self.params.pop("in_place", False)
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def _auto_name(self, key, autonames):
        autonames[self.type_name] += 1
        return self.type_name + str(autonames[self.type_name])

    def _top_name(self, top, names, autonames):
        if top not in names:
            names[top] = top.fn._auto_name(top, autonames)
        return names[top]

    def _layer_name(self, names, autonames):
        if self not in names:
            names[self] = (self._top_name(self.tops[0], names, autonames) if self.ntop > 0
                           else self._auto_name(self, autonames))
        return names[self]

    def _to_proto(self, layers, names, autonames):
        if self in layers:
            return
        bottoms = []
        for item in self.inputs:
            item._to_proto(layers, names, autonames)
            bottoms.append(layers[item.fn].top[item.n])
        layer = _pb2().LayerParameter()
        layer.type = self.type_name
        layer.bottom.extend(bottoms)
        if self.in_place:
            layer.top.extend(layer.bottom)
        else:
            layer.top.extend(self._top_name(t, names, autonames) for t in self.tops)
        layer.name = self._layer_name(names, autonames)
        prefix = _param_names().get(self.type_name)
        for key, value in self.params.items():
            if key.endswith("param"):
                assign_proto(layer, key, value)
                continue
            sub = getattr(layer, prefix + "_param") if prefix else None
            if sub is not None and key in sub.DESCRIPTOR.fields_by_name:
                assign_proto(sub, key, value)
            else:
                assign_proto(layer, key, value)
        layers[self] = layer


def to_proto(*tops):
    """NetParameter with the layers needed to compute ``tops`` (pycaffe's to_proto)."""
    layers, autonames = OrderedDict(), Counter()
    for top in tops:
        top._to_proto(layers, {}, autonames)
    net = _pb2().NetParameter()
    net.layer.extend(layers.values())
    return net


class NetSpec:
    """Collects named tops; ``to_proto()`` names each top after its attribute."""

    def __init__(self):
        super().__setattr__("tops", OrderedDict())

    def __setattr__(self, name, value):
        self.tops[name] = value

    def __getattr__(self, name):
        try:
            return self.tops[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setitem__(self, key, value):
        self.tops[key] = value

    def __getitem__(self, key):
        return self.tops[key]

    def __delitem__(self, key):
        del self.tops[key]

    def keys(self):
        return list(self.tops.keys())

    def to_proto(self):
        names = {top: name for name, top in self.tops.items()}
        layers, autonames = OrderedDict(), Counter()
        for top in self.tops.values():
            top._to_proto(layers, names, autonames)
        net = _pb2().NetParameter()
        net.layer.extend(layers.values())
        return net


class Layers:
    """``L.Convolution(bottom, ...)`` -> a Top (or a tuple of Tops when ntop > 1)."""

    def __getattr__(self, type_name):
        if type_name.startswith("__"):
            raise AttributeError(type_name)

        def layer_fn(*args, **kwargs):
            fn = Function(type_name, args, kwargs)
            if fn.ntop == 0:
                return fn
            if fn.ntop == 1:
                return fn.tops[0]
            return fn.tops

        return layer_fn


class Parameters:
    """``P.Pooling.MAX`` -> caffe_pb2.PoolingParameter.MAX (enum values by message name)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        message = getattr(_pb2(), name + "Parameter", None)
        if message is None:
            raise AttributeError(f"no message {name}Parameter in caffe.proto")

        class _Param:
            def __getattr__(self, value_name):
                return getattr(message, value_name)

        return _Param()


layers = Layers()
params = Parameters()
