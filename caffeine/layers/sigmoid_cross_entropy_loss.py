"""SigmoidCrossEntropyLoss: cross-entropy of sigmoid(x) against targets t in [0, 1].

Caffe 1.0's SigmoidCrossEntropyLossLayer, in its overflow-free form:
    loss_i = -[x (t - [x >= 0]) - log(1 + exp(x - 2 x [x >= 0]))]
           = max(x, 0) - x t + log(1 + exp(-|x|))
summed over targets whose int value is not loss_param.ignore_label, divided by
the normalizer with outer = N, inner = count / N.  This layer's default
normalization is BATCH_SIZE (Caffe kept the old divide-by-N behaviour): it is
VALID/FULL/... only when `normalization` is given, or VALID/BATCH_SIZE from the
legacy `normalize` bool.  Backward: (sigmoid(x) - t) * loss_weight / normalizer,
zero where the target is ignored.  Targets may be soft (fractional).
"""
import numpy as np

from caffeine.cuda_layers import losses_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import LossLayer
from caffeine.layers.labels import ignore_label_of, prediction_gradient_wanted


@register_layer("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLossLayer(LossLayer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/


    def setup(self, bottom, top):
        lp = self.layer_param.loss_param
        self.ignore_label = ignore_label_of(lp)
        if lp.HasField("normalization") or lp.HasField("normalize"):
            self.normalization = self.normalization_mode()
        else:
            self.normalization = self.caffe_pb2.LossParameter.BATCH_SIZE

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if bottom[0].count() != bottom[1].count():
            raise self.error("SigmoidCrossEntropyLoss inputs must have the same count",
                             cls=ShapeError, blob=bottom[1].name,
                             expected=bottom[0].count(), found=bottom[1].count())

    def forward_cpu(self, bottom, top):
        x = bottom[0].host_data_readonly.reshape(-1)
        t = bottom[1].host_data_readonly.reshape(-1)
        per_element = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        if self.ignore_label is not None:
            # Caffe compares static_cast<int>(target) with ignore_label
            self.valid = np.trunc(t) != self.ignore_label
            loss = per_element[self.valid].sum(dtype=np.float64)
            valid_count = int(self.valid.sum())
        else:
            self.valid = None
            loss = per_element.sum(dtype=np.float64)
            valid_count = x.size
        outer = bottom[0].num
        inner = bottom[0].count() // outer if outer else 0
        self.norm = self.normalizer(self.normalization, outer, inner, valid_count)
        top[0].data[...] = loss / self.norm
        self.sigmoid = 0.5 * np.tanh(0.5 * x) + 0.5  # Caffe's SigmoidLayer form

    def backward_cpu(self, top, propagate_down, bottom):
        if not prediction_gradient_wanted(self, propagate_down):
            return
        diff = self.sigmoid - bottom[1].host_data_readonly.reshape(-1)
        if self.valid is not None:
            diff *= self.valid
        diff *= top[0].host_diff_readonly.flat[0] / self.norm
        bottom[0].diff[...] = diff.reshape(bottom[0].shape)

    def forward_gpu(self, bottom, top):
        losses_gpu.sigmoid_ce_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        losses_gpu.sigmoid_ce_backward_gpu(self, top, propagate_down, bottom)
