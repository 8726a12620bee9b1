"""InfogainLoss: softmax + infogain-weighted log loss (Caffe 1.0's InfogainLossLayer).

bottom[0]: scores, softmax over infogain_loss_param.axis (default 1), seen as
(outer, C, inner); bottom[1]: outer*inner labels; H (C x C) from
infogain_loss_param.source (a binary BlobProto) or from an optional bottom[2].
    loss = -sum_{valid} sum_l H[label, l] log(max(prob[l], 1e-20)) / normalizer
    dx_l = (prob_l * sum_m H[label, m] - H[label, l]) * loss_weight / normalizer
Labels equal to loss_param.ignore_label are skipped (zero gradient); the
normalizer is LossLayer's with `normalization` (default VALID).  As in Caffe the
legacy `normalize` field is rejected for this layer.  An optional second top
receives the probabilities.  No gradient into the labels or into H.
"""
import numpy as np

from caffeine.cuda_layers import prob_losses_gpu
from caffeine.errors import ShapeError, WeightsError
from caffeine.layers import register_layer
from caffeine.layers.labels import (LOG_THRESHOLD, ignore_label_of, label_backprop_error,
                                    prediction_gradient_wanted)
from caffeine.layers.softmax_loss_base import SoftmaxLossBase


@register_layer("InfogainLoss")
class InfogainLossLayer(SoftmaxLossBase):
    exact_num_bottom = None
    min_bottom = 2
    max_bottom = 3
    axis_field = "infogain_loss_param"
    label_axis_name = "infogain axis"
    has_gpu_kernel = True  # layers_cuda/prob_losses.cu (+ softmax.cu's softmax_forward)

    def allow_force_backward(self, bottom_index):
        return bottom_index == 0

    def setup(self, bottom, top):
        lp = self.layer_param.loss_param
        if lp.HasField("normalize"):
            raise self.error('loss_param.normalize is deprecated for InfogainLoss; use '
                             '"normalization" (FULL, VALID, BATCH_SIZE or NONE)',
                             field="loss_param.normalize")
        self.normalization = lp.normalization
        self.ignore_label = ignore_label_of(lp)
        self.infogain = None
        if len(bottom) < 3:
            param = self.layer_param.infogain_loss_param
            if not param.HasField("source") or not param.source:
                raise self.error("infogain matrix source must be specified "
                                 "(infogain_loss_param.source) or given as a third bottom",
                                 field="infogain_loss_param.source")
            self.infogain = self._read_infogain(param.source)

    def _read_infogain(self, source):
        from caffeine.proto.io import blob_shape, read_blobproto
        try:
            proto = read_blobproto(source)
        except WeightsError as exc:
            raise exc.with_context(layer=self.name, layer_type=self.type,
                                   field="infogain_loss_param.source")
        values = np.asarray(proto.double_data if len(proto.double_data) else proto.data,
                            dtype=self.dtype)
        shape = blob_shape(proto)
        if shape and int(np.prod(shape)) != values.size:
            raise WeightsError(f"infogain matrix holds {values.size} values but its shape says "
                               f"{shape}", file=source, layer=self.name, layer_type=self.type,
                               field="infogain_loss_param.source")
        return values

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        channels = self.dims[1]
        from_source = self.infogain is not None
        h_count = self.infogain.size if from_source else bottom[2].count()
        if h_count != channels * channels:
            raise self.error(f"infogain matrix H must be {channels}x{channels} "
                             "(one row and column per class)", cls=ShapeError,
                             field="infogain_loss_param.source" if from_source else None,
                             blob=None if from_source else bottom[2].name,
                             expected=channels * channels, found=h_count)

    def _matrix(self, bottom):
        channels = self.dims[1]
        h = self.infogain if self.infogain is not None else bottom[2].host_data_readonly
        return h.reshape(channels, channels)

    def forward_cpu(self, bottom, top):
        prob, labels, valid = self.probabilities_and_labels(bottom)
        h_rows = self._matrix(bottom)[labels].transpose(0, 2, 1)  # (outer, C, inner): H[label, l]
        log_prob = np.log(np.maximum(prob, LOG_THRESHOLD))
        loss = -np.einsum("ocn,ocn,on->", h_rows, log_prob, valid.astype(prob.dtype))
        self.finish_forward(top, loss, prob, labels, valid)

    def backward_cpu(self, top, propagate_down, bottom):
        wanted = prediction_gradient_wanted(self, propagate_down)
        if len(propagate_down) > 2 and propagate_down[2]:
            raise label_backprop_error(self, "infogain")
        if not wanted:
            return
        h = self._matrix(bottom)
        row_sums = h.sum(axis=1)[self.labels]                # (outer, inner)
        h_rows = h[self.labels].transpose(0, 2, 1)           # (outer, C, inner)
        diff = self.prob * row_sums[:, None, :] - h_rows
        self.write_bottom_diff(top, bottom, diff)

    def forward_gpu(self, bottom, top):
        prob_losses_gpu.infogain_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        prob_losses_gpu.infogain_backward_gpu(self, top, propagate_down, bottom)
