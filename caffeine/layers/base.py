"""The Layer contract, as Caffe's ``Layer<Dtype>``.

``layer_setup`` (Caffe's SetUp) checks blob counts, calls ``setup`` then
``reshape`` and installs loss weights; ``forward`` reshapes, dispatches to the
CPU or GPU path and returns the weighted loss; ``backward`` dispatches likewise.

Semantics every subclass keeps (Caffe's):
- param diffs ACCUMULATE (``blob.diff += ...``); the solver clears them;
- bottom diffs are OVERWRITTEN (``bottom.diff[...] = ...``);
- ``propagate_down[i]`` false means bottom i's diff is not touched;
- a loss top's diff holds its loss weight; backward multiplies by ``top[0].diff.flat[0]``.
"""
import logging

import numpy as np

from caffeine import backend
from caffeine.blob import Blob
from caffeine.errors import LayerConfigError, ShapeError

log = logging.getLogger("caffeine")
_host_fallback_logged = set()


class Layer:
    type = None  # set by @register_layer

    # Blob count constraints (Caffe's ExactNumBottomBlobs & co.); None = unchecked.
    exact_num_bottom = None
    min_bottom = None
    max_bottom = None
    exact_num_top = None
    min_top = None
    max_top = None
    equal_num_bottom_top = False
    auto_top_blobs = False  # Caffe's AutoTopBlobs: create anonymous tops up to min/exact count
    allow_inplace = False   # whether top may be the same blob as bottom (NeuronLayer and a few others)
    is_loss = False         # loss layers default loss_weight 1 on top[0]
    has_gpu_kernel = False  # set True by layers whose forward_gpu/backward_gpu is a real device path

    def __init__(self, layer_param, phase=None):
        from caffeine.proto import caffe_pb2
        self.layer_param = layer_param
        self.name = layer_param.name
        self.phase = layer_param.phase if phase is None else phase
        if phase is not None:
            self.layer_param.phase = phase
        self.blobs = []                 # learnable parameter Blobs
        self.param_propagate_down = []  # per param blob: compute its diff?
        self.loss_weights = []
        self.dtype = np.dtype(np.float32)
        self.caffe_pb2 = caffe_pb2
        self._is_setup = False

    # ---- helpers for subclasses -----------------------------------------------------
    def error(self, message, cls=LayerConfigError, **kw):
        """A ConfigError naming this layer (raise the result)."""
        return cls(message, layer=self.name, layer_type=self.type, **kw)

    def new_blob(self, *shape, name=None):
        return Blob(*shape, dtype=self.dtype, name=name)

    @property
    def rng(self):
        return backend.rng()

    # ---- Caffe's SetUp ---------------------------------------------------------------
    def check_blob_counts(self, bottom, top):
        nb, nt = len(bottom), len(top)

        def bad(what, expected, found):
            raise self.error(f"wrong number of {what} blobs", expected=expected, found=found)

        if self.exact_num_bottom is not None and nb != self.exact_num_bottom:
            bad("bottom", self.exact_num_bottom, nb)
        if self.min_bottom is not None and nb < self.min_bottom:
            bad("bottom", f">= {self.min_bottom}", nb)
        if self.max_bottom is not None and nb > self.max_bottom:
            bad("bottom", f"<= {self.max_bottom}", nb)
        if self.exact_num_top is not None and nt != self.exact_num_top:
            bad("top", self.exact_num_top, nt)
        if self.min_top is not None and nt < self.min_top:
            bad("top", f">= {self.min_top}", nt)
        if self.max_top is not None and nt > self.max_top:
            bad("top", f"<= {self.max_top}", nt)
        if self.equal_num_bottom_top and nb != nt:
            bad("top", f"as many as bottoms ({nb})", nt)
        if not self.allow_inplace:
            for t in top:
                for b in bottom:
                    if t is b:
                        raise self.error(f"layer does not support in-place computation (blob '{t.name}')")

    def layer_setup(self, bottom, top):
        if bottom:
            self.dtype = bottom[0].dtype
        self.check_blob_counts(bottom, top)
        self.setup(bottom, top)
        if len(self.param_propagate_down) < len(self.blobs):
            self.param_propagate_down += [True] * (len(self.blobs) - len(self.param_propagate_down))
        self.reshape(bottom, top)
        self.set_loss_weights(top)
        self._is_setup = True

    def set_loss_weights(self, top):
        weights = list(self.layer_param.loss_weight)
        if not weights and self.is_loss:
            weights = [1.0] + [0.0] * (len(top) - 1)
        if weights and len(weights) != len(top):
            raise self.error("loss_weight must be given once per top blob", field="loss_weight",
                             expected=len(top), found=len(weights))
        self.loss_weights = [float(w) for w in weights] + [0.0] * (len(top) - len(weights))
        for t, w in zip(top, self.loss_weights):
            if w != 0:
                t.diff[...] = w

    def loss(self, top_index):
        return self.loss_weights[top_index] if top_index < len(self.loss_weights) else 0.0

    # ---- the per-type methods ---------------------------------------------------------
    def setup(self, bottom, top):
        """Validate parameters and create parameter blobs (Caffe's LayerSetUp)."""

    def reshape(self, bottom, top):
        raise NotImplementedError(f"{type(self).__name__}.reshape")

    def forward_cpu(self, bottom, top):
        raise NotImplementedError(f"{type(self).__name__}.forward_cpu")

    def backward_cpu(self, top, propagate_down, bottom):
        """Default: layers with no gradient (data layers etc.)."""
        for i, pd in enumerate(propagate_down):
            if pd:
                raise self.error(f"layer cannot backpropagate to input {i}")

    def forward_gpu(self, bottom, top):
        self._log_host_fallback()
        return self.forward_cpu(bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        self._log_host_fallback()
        return self.backward_cpu(top, propagate_down, bottom)

    def _log_host_fallback(self):
        if self.type not in _host_fallback_logged:
            _host_fallback_logged.add(self.type)
            log.info("Layer type %s has no GPU kernel; layer %s runs on the host", self.type, self.name)

    def allow_force_backward(self, bottom_index):
        return True

    # ---- dispatch (Caffe's Layer::Forward / Backward) ----------------------------------
    def forward(self, bottom, top):
        self.reshape(bottom, top)
        gpu = backend.is_gpu()
        if gpu:
            self.forward_gpu(bottom, top)
        else:
            self.forward_cpu(bottom, top)
        loss = 0.0
        for i, t in enumerate(top):
            w = self.loss(i)
            if w != 0:
                if gpu:
                    xp = backend.get_array_module(t.gpu_data)
                    loss += xp.vdot(t.gpu_data.ravel(), t.gpu_diff.ravel())
                else:
                    d = t.host_data_readonly.ravel()
                    loss += float(np.dot(d, t.host_diff_readonly.ravel()))
        return loss

    def backward(self, top, propagate_down, bottom):
        if backend.is_gpu():
            self.backward_gpu(top, propagate_down, bottom)
        else:
            self.backward_cpu(top, propagate_down, bottom)

    def to_proto(self, write_diff=False):
        param = self.caffe_pb2.LayerParameter()
        param.CopyFrom(self.layer_param)
        del param.blobs[:]
        for b in self.blobs:
            b.to_proto(write_diff=write_diff, proto=param.blobs.add())
        return param

    def __repr__(self):
        return f"<{self.type} layer '{self.name}'>"


class NeuronLayer(Layer):
    """One bottom, one top of the same shape; in-place allowed (Caffe's NeuronLayer)."""

    exact_num_bottom = 1
    exact_num_top = 1
    allow_inplace = True

    def reshape(self, bottom, top):
        if top[0] is not bottom[0]:
            top[0].reshape(bottom[0].shape)


class LossLayer(Layer):
    """Two bottoms (prediction, target), a scalar top; loss_weight 1 by default."""

    exact_num_bottom = 2
    exact_num_top = 1
    is_loss = True

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1  # never into labels

    def reshape(self, bottom, top):
        if bottom[0].num_axes == 0 or bottom[1].num_axes == 0 or bottom[0].shape[0] != bottom[1].shape[0]:
            raise self.error("the data and label should have the same first dimension",
                             cls=ShapeError, expected=bottom[0].shape[:1], found=bottom[1].shape[:1])
        top[0].reshape(())

    def normalizer(self, mode, outer_num, inner_num, valid_count):
        """Caffe's LossLayer::GetNormalizer for LossParameter.NormalizationMode."""
        N = self.caffe_pb2.LossParameter
        if mode == N.FULL:
            value = outer_num * inner_num
        elif mode == N.VALID:
            value = outer_num * inner_num if valid_count == -1 else valid_count
        elif mode == N.BATCH_SIZE:
            value = outer_num
        elif mode == N.NONE:
            value = 1.0
        else:
            raise self.error(f"unknown normalization mode {mode}")
        return max(1.0, float(value))

    def normalization_mode(self):
        """normalization, or the legacy `normalize` bool (false -> BATCH_SIZE)."""
        lp = self.layer_param.loss_param
        N = self.caffe_pb2.LossParameter
        if not lp.HasField("normalization") and lp.HasField("normalize"):
            return N.VALID if lp.normalize else N.BATCH_SIZE
        return lp.normalization


class ViewLayer(Layer):
    """A top that is a reshaped view of the bottom: data and diff shared, no copy
    (Caffe's Flatten and Reshape, which call ShareData/ShareDiff in Reshape)."""

    exact_num_bottom = 1
    exact_num_top = 1
    has_gpu_kernel = True  # nothing to compute; the GPU glue keeps the views on the device

    def share_as(self, bottom, top, shape):
        top[0].reshape(shape)
        top[0].share_data(bottom[0])
        top[0].share_diff(bottom[0])

    def forward_cpu(self, bottom, top):
        pass

    def backward_cpu(self, top, propagate_down, bottom):
        pass

    def forward_gpu(self, bottom, top):
        from caffeine.cuda_layers import structure_gpu
        structure_gpu.view_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        from caffeine.cuda_layers import structure_gpu
        structure_gpu.view_backward_gpu(self, top, propagate_down, bottom)
