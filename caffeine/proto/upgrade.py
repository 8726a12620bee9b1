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

The V0 -> V1 step lives in ``upgrade_v0.py``, the V1 -> V2 and data-transformation
steps in ``upgrade_v1.py``; this module runs them in Caffe's order with Caffe's log lines.
"""

import logging
from collections import namedtuple

from caffeine.errors import PrototxtError, SolverError
from caffeine.proto import caffe_pb2
from caffeine.proto.upgrade_v0 import V0_LAYER_TYPES, net_needs_v0_upgrade, upgrade_v0_net
from caffeine.proto.upgrade_v1 import (TRANSFORM_FIELDS, V1_DATA_LAYER_PARAMS, V1_LAYER_TYPES,
                                       V1_PARAM_FIELDS, net_needs_data_upgrade,
                                       net_needs_v1_upgrade, upgrade_data_transformation,
                                       upgrade_v1_net)

__all__ = [
    "upgrade_net", "upgrade_solver", "net_needs_upgrade", "solver_needs_upgrade",
    "net_needs_v0_upgrade", "net_needs_data_upgrade", "net_needs_v1_upgrade",
    "net_needs_input_upgrade", "net_needs_batchnorm_upgrade",
    "V0_LAYER_TYPES", "V1_LAYER_TYPES", "V1_PARAM_FIELDS", "V1_DATA_LAYER_PARAMS",
    "TRANSFORM_FIELDS", "SOLVER_TYPES",
]

log = logging.getLogger("caffeine")

SOLVER_TYPES = {
    caffe_pb2.SolverParameter.SGD: "SGD",
    caffe_pb2.SolverParameter.NESTEROV: "Nesterov",
    caffe_pb2.SolverParameter.ADAGRAD: "AdaGrad",
    caffe_pb2.SolverParameter.RMSPROP: "RMSProp",
    caffe_pb2.SolverParameter.ADADELTA: "AdaDelta",
    caffe_pb2.SolverParameter.ADAM: "Adam",
}


# ---------------------------------------------------------------- checks

def net_needs_input_upgrade(net):
    return len(net.input) > 0


def net_needs_batchnorm_upgrade(net):
    return any(layer.type == "BatchNorm" and len(layer.param) == 3
               for layer in net.layer)


def net_needs_upgrade(net):
    """True if any of Caffe's net upgrades applies to ``net``."""
    return any(step.needs(net) for step in _NET_STEPS)


def solver_needs_upgrade(solver):
    """True if the solver uses the deprecated ``solver_type`` enum."""
    return solver.HasField("solver_type")


# ---------------------------------------------------------------- net

def upgrade_net(net_param, source=None):
    """Upgrade a NetParameter (V0/V1/input fields/BatchNorm) in place; return it.

    ``source`` names the file in log lines and errors.
    """
    source = "<string>" if source is None else str(source)
    for step in _NET_STEPS:
        if not step.needs(net_param):
            continue
        log.info(step.attempt, source)
        if step.upgrade(net_param, source):
            log.info(step.success)
        else:
            log.warning(step.failure)
        if step.note:
            log.warning(step.note)
    return net_param


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
    return True


def _upgrade_batchnorm(net, source=None):
    """Old BatchNorm layers declared three lr_mult 0 params; the layer now manages them."""
    for layer in net.layer:
        if layer.type == "BatchNorm" and len(layer.param) == 3:
            layer.ClearField("param")
    return True


# One of Caffe's UpgradeNetAsNeeded steps: its check, its upgrade (in place, False when
# something was only logged) and its log lines, word for word.
_NetStep = namedtuple("_NetStep", "needs upgrade attempt success failure note")

_NET_STEPS = (
    _NetStep(net_needs_v0_upgrade, upgrade_v0_net,
             "Attempting to upgrade input file specified using deprecated V0LayerParameter: %s",
             "Successfully upgraded file specified using deprecated V0LayerParameter",
             "Warning: had one or more problems upgrading V0NetParameter to NetParameter "
             "(see above); continuing anyway.",
             "Note that future Caffe releases will not support V0NetParameter; "
             "use 'caffeine upgrade_net_proto_text' / 'upgrade_net_proto_binary' "
             "to upgrade this and any other net protos to the new format."),
    _NetStep(net_needs_data_upgrade, upgrade_data_transformation,
             "Attempting to upgrade input file specified using deprecated "
             "transformation parameters: %s",
             "Successfully upgraded file specified using deprecated data "
             "transformation parameters.",
             None,
             "Note that future Caffe releases will only support transform_param "
             "messages for transformation fields."),
    _NetStep(net_needs_v1_upgrade, upgrade_v1_net,
             "Attempting to upgrade input file specified using deprecated V1LayerParameter: %s",
             "Successfully upgraded file specified using deprecated V1LayerParameter",
             "Warning: had one or more problems upgrading V1LayerParameter (see above); "
             "continuing anyway.",
             None),
    _NetStep(net_needs_input_upgrade, _upgrade_net_input,
             "Attempting to upgrade input file specified using deprecated input fields: %s",
             "Successfully upgraded file specified using deprecated input fields.",
             None,
             "Note that future Caffe releases will only support input layers "
             "and not input fields."),
    _NetStep(net_needs_batchnorm_upgrade, _upgrade_batchnorm,
             "Attempting to upgrade batch norm layers using deprecated params: %s",
             "Successfully upgraded batch norm layers using deprecated params.",
             None, None),
)


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
