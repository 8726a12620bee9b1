"""Net: a DAG of layers connected by named blobs, as Caffe's Net.

Construction follows Caffe's Net::Init: upgrade -> filter by phase/level/stage ->
insert Split layers -> build layers in order, wiring bottoms to the latest blob of
that name (in-place when a top reuses a bottom's name) -> collect params (sharing
by ParamSpec.name) -> decide which layers need backward -> log Caffe's tables.
"""
import logging
import os
from collections import OrderedDict

import numpy as np

from caffeine import backend
from caffeine.blob import Blob
from caffeine.errors import ConfigError, LayerConfigError, ShapeError
from caffeine.layers import create_layer
from caffeine.net_filter import filter_net, insert_splits
from caffeine.net_debug import NetDebugMixin
from caffeine.net_weights import NetWeightsMixin

log = logging.getLogger("caffeine")


def _phase_value(phase):
    from caffeine.proto import caffe_pb2
    if isinstance(phase, str):
        names = {"TRAIN": caffe_pb2.TRAIN, "TEST": caffe_pb2.TEST}
        if phase.upper() not in names:
            raise ConfigError(f"unknown phase '{phase}'", expected="TRAIN or TEST", found=phase)
        return names[phase.upper()]
    return int(phase)


class Net(NetWeightsMixin, NetDebugMixin):
    """``Net(model, phase)``, ``Net(model, weights, phase)`` (pycaffe) or
    ``Net(model, phase, weights=...)``; ``model`` is a prototxt path or a NetParameter."""

    def __init__(self, model, *args, weights=None, phase=None, level=0, stages=(), dtype=np.float32):
        from caffeine.proto import caffe_pb2, io as proto_io
        args = list(args)
        if args and isinstance(args[0], (str, os.PathLike)):
            weights = args.pop(0)
        if args:
            phase = args.pop(0)
        if args:
            raise TypeError("Net(model, [weights,] phase, weights=None, level=0, stages=())")
        if phase is None:
            raise TypeError("Net() needs a phase: caffeine.TRAIN or caffeine.TEST")
        self.phase = _phase_value(phase)
        self.dtype = np.dtype(dtype)
        self.debug_info = False
        if isinstance(model, caffe_pb2.NetParameter):
            param, self.source = model, None
            from caffeine.proto import upgrade
            if upgrade.net_needs_upgrade(param):
                param = upgrade.upgrade_net(param)
        else:
            self.source = os.fspath(model)
            param = proto_io.read_net_param(self.source)
        self.source_dir = os.path.dirname(os.path.abspath(self.source)) if self.source else None
        state = caffe_pb2.NetState()
        state.CopyFrom(param.state)
        state.phase = self.phase
        state.level = level if level else state.level
        if stages:
            del state.stage[:]
            state.stage.extend(stages)
        self._init(param, state)
        if weights:
            self.copy_from(weights)

    @classmethod
    def from_param(cls, net_param, phase, **kw):
        return cls(net_param, phase=phase, **kw)

    # ---- construction ------------------------------------------------------------------
    def _err(self, exc, layer_param=None):
        ctx = {"file": self.source}
        if layer_param is not None:
            ctx.update(layer=layer_param.name, layer_type=layer_param.type)
        return exc.with_context(**ctx)

    def _init(self, in_param, state):
        try:
            filtered = filter_net(in_param, state, self.source)
            param = insert_splits(filtered)
        except ConfigError as exc:
            raise self._err(exc) from None
        self.param = param
        self.name = param.name
        log.info("Initializing net from parameters: name: \"%s\" (%s phase)", param.name,
                 "TRAIN" if self.phase == 0 else "TEST")
        self.layers, self.layer_names = [], []
        self.blobs = OrderedDict()
        self.bottom_vecs, self.top_vecs = [], []
        self.bottom_ids, self.top_ids = [], []
        self.bottom_need_backward = []
        self.layer_need_backward = []
        self.blob_loss_weights = {}
        self.params = OrderedDict()
        self._all_params, self._param_owner, self._param_display = [], [], []
        self.learnable_params, self.params_lr, self.params_weight_decay = [], [], []
        self.learnable_param_names = []
        self._param_names = {}
        available = OrderedDict()   # blobs produced but not yet consumed
        blob_need_backward = {}
        memory = 0
        names_seen = set()
        for layer_id, lp in enumerate(param.layer):
            if lp.name in names_seen and lp.name:
                raise self._err(LayerConfigError("duplicate layer name"), lp)
            names_seen.add(lp.name)
            if not lp.HasField("phase"):
                lp.phase = self.phase
            try:
                layer = create_layer(lp, self.phase)
            except ConfigError as exc:
                raise self._err(exc, lp) from None
            layer.dtype = self.dtype
            layer.source_dir = self.source_dir
            log.info("Creating Layer %s", lp.name)
            bottoms, bottom_names, need_bw = [], [], False
            for j, bname in enumerate(lp.bottom):
                if bname not in self.blobs:
                    raise self._err(LayerConfigError(
                        f"unknown bottom blob '{bname}' (bottom index {j})", blob=bname,
                        expected="a top of an earlier layer", found=bname), lp)
                blob = self.blobs[bname]
                log.info("%s <- %s", lp.name, bname)
                bottoms.append(blob)
                bottom_names.append(bname)
                available.pop(bname, None)
                need_bw = need_bw or blob_need_backward.get(bname, False)
            tops, top_names = [], []
            for j, tname in enumerate(lp.top):
                if j < len(lp.bottom) and lp.bottom[j] == tname:
                    blob = self.blobs[tname]  # in-place: Caffe allows it only at the same index
                    log.info("%s -> %s (in-place)", lp.name, tname)
                else:
                    if tname in self.blobs:
                        raise self._err(LayerConfigError(
                            f"top blob '{tname}' produced by multiple sources", blob=tname), lp)
                    blob = Blob(dtype=self.dtype, name=tname)
                    self.blobs[tname] = blob
                    log.info("%s -> %s", lp.name, tname)
                tops.append(blob)
                top_names.append(tname)
                available[tname] = True
            # Caffe's AutoTopBlobs: anonymous tops up to the required count
            if layer.auto_top_blobs:
                needed = max(layer.exact_num_top or 0, layer.min_top or 0)
                while len(tops) < needed:
                    tname = f"(automatic){len(tops)}"
                    blob = Blob(dtype=self.dtype, name=tname)
                    self.blobs[tname] = blob
                    tops.append(blob)
                    top_names.append(tname)
                    available[tname] = True
            log.info("Setting up %s", lp.name)
            try:
                layer.layer_setup(bottoms, tops)
            except ConfigError as exc:
                raise self._err(exc, lp) from None
            for j, t in enumerate(tops):
                log.info("Top shape: %s", t.shape_string())
                w = layer.loss(j)
                if w:
                    log.info("    with loss weight %g", w)
                    self.blob_loss_weights[top_names[j]] = w
                memory += t.count()
            log.info("Memory required for data: %d", memory * self.dtype.itemsize)
            self.layers.append(layer)
            self.layer_names.append(lp.name)
            self.bottom_vecs.append(bottoms)
            self.top_vecs.append(tops)
            self.bottom_ids.append(bottom_names)
            self.top_ids.append(top_names)
            # params
            if len(lp.param) > len(layer.blobs):
                raise self._err(LayerConfigError(
                    f"too many param specs: the layer has {len(layer.blobs)} parameter blobs",
                    field="param", expected=f"<= {len(layer.blobs)}", found=len(lp.param)), lp)
            param_need_bw = False
            for k, pblob in enumerate(layer.blobs):
                self._append_param(layer_id, lp, layer, k, pblob)
                lr = lp.param[k].lr_mult if k < len(lp.param) else 1.0
                param_need_bw = param_need_bw or (lr != 0 and layer.param_propagate_down[k])
            if layer.blobs:
                self.params[lp.name] = layer.blobs
            need_bw = need_bw or param_need_bw
            self.layer_need_backward.append(need_bw)
            for tname in top_names:
                blob_need_backward[tname] = need_bw or (tname in lp.bottom and blob_need_backward.get(tname, False))
            self.bottom_need_backward.append([blob_need_backward.get(b, False) for b in bottom_names])
        self._decide_backward(param, blob_need_backward)
        self.output_blob_names = list(available)
        for name in self.output_blob_names:
            log.info("This network produces output %s", name)
        self.inputs = [t for l, tops in zip(self.layers, self.top_ids) if l.type == "Input" for t in tops]
        self.outputs = list(self.output_blob_names)
        self._share_weights()
        log.info("Network initialization done.")

    def _append_param(self, layer_id, lp, layer, k, pblob):
        """Caffe's Net::AppendParam: sharing by name, lr/decay multipliers, owners."""
        spec = lp.param[k] if k < len(lp.param) else None
        display = spec.name if spec is not None and spec.name else f"{lp.name}/{k}"
        net_param_id = len(self._all_params)
        self._all_params.append(pblob)
        self._param_display.append(display)
        pblob.name = pblob.name or f"{lp.name}/{k}"
        lr = spec.lr_mult if spec is not None else 1.0
        decay = spec.decay_mult if spec is not None else 1.0
        name = spec.name if spec is not None else ""
        if not name or name not in self._param_names:
            if name:
                self._param_names[name] = (net_param_id, len(self.learnable_params))
            self._param_owner.append(-1)
            self.learnable_params.append(pblob)
            self.params_lr.append(lr)
            self.params_weight_decay.append(decay)
            self.learnable_param_names.append(display)
            return
        owner_id, learnable_id = self._param_names[name]
        owner = self._all_params[owner_id]
        self._param_owner.append(owner_id)
        mode = spec.share_mode
        permissive = mode == spec.PERMISSIVE  # PERMISSIVE compares counts, STRICT whole shapes
        if (permissive and owner.count() != pblob.count()) or (not permissive and owner.shape != pblob.shape):
            raise self._err(ShapeError(
                f"cannot share param '{name}': shapes differ", field="param",
                expected=owner.shape, found=pblob.shape), lp)
        # the owner's multipliers win, but a shared param's own spec must not contradict them
        if spec.HasField("lr_mult") and self.params_lr[learnable_id] != lr:
            raise self._err(LayerConfigError(f"shared param '{name}' has conflicting lr_mult",
                                             expected=self.params_lr[learnable_id], found=lr), lp)
        if spec.HasField("decay_mult") and self.params_weight_decay[learnable_id] != decay:
            raise self._err(LayerConfigError(f"shared param '{name}' has conflicting decay_mult",
                                             expected=self.params_weight_decay[learnable_id],
                                             found=decay), lp)

    def _share_weights(self):
        for i, owner_id in enumerate(self._param_owner):
            if owner_id >= 0:
                owner = self._all_params[owner_id]
                blob = self._all_params[i]   # counts are equal: _append_param checked them
                blob.share_data(owner)
                blob.share_diff(owner)

    def _decide_backward(self, param, blob_need_backward):
        """Prune backward to layers under a loss (Caffe's Net::Init backward pass)."""
        under_loss = set()
        n = len(self.layers)
        for i in reversed(range(n)):
            layer = self.layers[i]
            produces_loss = any(layer.loss(j) for j in range(len(self.top_vecs[i])))
            contributes = produces_loss or any(t in under_loss for t in self.top_ids[i])
            if self.layer_need_backward[i] and not contributes:
                self.layer_need_backward[i] = False
                self.bottom_need_backward[i] = [False] * len(self.bottom_ids[i])
            if contributes:
                under_loss.update(self.bottom_ids[i])
            # explicit propagate_down in the prototxt
            lp = self.param.layer[i]
            if len(lp.propagate_down):
                if len(lp.propagate_down) != len(lp.bottom):
                    raise self._err(LayerConfigError("propagate_down must be given once per bottom",
                                                     expected=len(lp.bottom),
                                                     found=len(lp.propagate_down)), lp)
                self.bottom_need_backward[i] = [bool(a and b) for a, b in
                                                zip(self.bottom_need_backward[i], lp.propagate_down)]
        if param.force_backward:
            for i, layer in enumerate(self.layers):
                self.layer_need_backward[i] = True
                self.bottom_need_backward[i] = [
                    layer.allow_force_backward(j) or nb for j, nb in enumerate(self.bottom_need_backward[i])]
        for i, lp in enumerate(self.param.layer):
            log.info("%s %s backward computation.", lp.name,
                     "needs" if self.layer_need_backward[i] else "does not need")

    # ---- pycaffe-style accessors ----------------------------------------------------------
    @property
    def _layer_names(self):
        return list(self.layer_names)

    @property
    def layer_dict(self):
        return OrderedDict(zip(self.layer_names, self.layers))

    @property
    def top_names(self):
        return OrderedDict(zip(self.layer_names, self.top_ids))

    @property
    def bottom_names(self):
        return OrderedDict(zip(self.layer_names, self.bottom_ids))

    @property
    def blob_names(self):
        return list(self.blobs)

    def _index(self, name, default):
        if name is None:
            return default
        if name not in self.layer_names:
            raise ConfigError(f"no layer named '{name}' in net '{self.name}'")
        return self.layer_names.index(name)

    # ---- computation --------------------------------------------------------------------
    def forward_from_to(self, start, end):
        if backend.is_gpu():
            # the layers' input checks (bad labels/indices) come back with the loss: one readback
            from caffeine.cuda_layers.launch import collected_checks
            with collected_checks() as checks:
                loss = self._forward_layers(start, end)
            return checks.resolve(loss)
        return float(self._forward_layers(start, end))

    def _forward_layers(self, start, end):
        loss = 0.0
        for i in range(start, end + 1):
            loss += self.layers[i].forward(self.bottom_vecs[i], self.top_vecs[i])
            if self.debug_info:
                self._forward_debug(i)
        return loss

    def backward_from_to(self, start, end):
        for i in range(start, end - 1, -1):
            if self.layer_need_backward[i]:
                self.layers[i].backward(self.top_vecs[i], self.bottom_need_backward[i], self.bottom_vecs[i])
                if self.debug_info:
                    self._backward_debug(i)

    def forward_loss(self):
        """Caffe's Net::Forward(&loss): run every layer, return the weighted loss."""
        return self.forward_from_to(0, len(self.layers) - 1)

    def backward_net(self):
        self.backward_from_to(len(self.layers) - 1, 0)
        if self.debug_info:
            self._update_debug_summary()

    def forward_backward(self):
        loss = self.forward_loss()
        self.backward_net()
        return loss

    def forward(self, blobs=None, start=None, end=None, **kwargs):
        """pycaffe's forward: set inputs from kwargs, run, return {output: data}."""
        for name, value in kwargs.items():
            if name not in self.blobs:
                raise ConfigError(f"forward(): no blob named '{name}'", expected=self.inputs, found=name)
            if self.blobs[name].shape != np.shape(value):
                raise ShapeError(f"forward(): input '{name}' has the wrong shape", blob=name,
                                 expected=self.blobs[name].shape, found=np.shape(value))
            self.blobs[name].data[...] = value
        start_i = self._index(start, 0)
        end_i = self._index(end, len(self.layers) - 1)
        self._last_loss = self.forward_from_to(start_i, end_i)
        outs = set(self.outputs if end is None else self.top_ids[end_i]) | set(blobs or [])
        return {name: self.blobs[name].data for name in self.blobs if name in outs}

    def backward(self, diffs=None, start=None, end=None, **kwargs):
        """pycaffe's backward: set top diffs from kwargs, run, return {input: diff}."""
        for name, value in kwargs.items():
            if name not in self.blobs:
                raise ConfigError(f"backward(): no blob named '{name}'", expected=self.outputs, found=name)
            self.blobs[name].diff[...] = value
        start_i = self._index(start, len(self.layers) - 1)
        end_i = self._index(end, 0)
        self.backward_from_to(start_i, end_i)
        outs = set(self.inputs if end is None else self.bottom_ids[end_i]) | set(diffs or [])
        return {name: self.blobs[name].diff for name in self.blobs if name in outs}

    def set_input_arrays(self, data, labels):
        """pycaffe: feed a MemoryData first layer from numpy arrays."""
        layer = self.layers[0] if self.layers else None
        if layer is None or layer.type != "MemoryData":
            raise ConfigError("set_input_arrays needs a MemoryData layer as the first layer",
                              expected="MemoryData", found=layer.type if layer else None)
        return layer.set_input_arrays(data, labels)

    def reshape(self):
        for i, layer in enumerate(self.layers):
            layer.reshape(self.bottom_vecs[i], self.top_vecs[i])

    def clear_param_diffs(self):
        for p in self.learnable_params:
            if backend.is_gpu():
                p.gpu_diff.fill(0)
            else:
                p.diff[...] = 0
