"""SoftmaxWithLoss: multinomial logistic loss of the softmax of the input (Caffe's).

bottom[0]: scores, softmax over softmax_param.axis (default 1), seen as
(outer, C, inner); bottom[1]: outer*inner integer labels in [0, C).
    loss = -sum_{valid} log(max(prob[label], FLT_MIN)) / normalizer
where labels equal to loss_param.ignore_label are skipped and the normalizer is
LossLayer's (normalization VALID by default, or the legacy `normalize` bool).
Backward: dx = (prob - onehot(label)) * loss_weight / normalizer, zero at
ignored positions.  An optional second top receives the probabilities.
"""
import numpy as np

from caffeine.cuda_layers import softmax_gpu
from caffeine.layers import register_layer
from caffeine.layers.labels import FLT_MIN, ignore_label_of, prediction_gradient_wanted
from caffeine.layers.softmax_loss_base import SoftmaxLossBase


@register_layer("SoftmaxWithLoss")
class SoftmaxWithLossLayer(SoftmaxLossBase):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    def setup(self, bottom, top):
        self.ignore_label = ignore_label_of(self.layer_param.loss_param)
        self.normalization = self.normalization_mode()

    def forward_cpu(self, bottom, top):
        prob, labels, valid = self.probabilities_and_labels(bottom)
        p_true = np.take_along_axis(prob, labels[:, None, :], axis=1)[:, 0, :]
        loss = -np.log(np.maximum(p_true[valid], FLT_MIN)).sum(dtype=np.float64)
        self.finish_forward(top, loss, prob, labels, valid)

    def backward_cpu(self, top, propagate_down, bottom):
        if not prediction_gradient_wanted(self, propagate_down):
            return
        outer, _, inner = self.dims
        diff = self.prob.copy()
        rows = np.arange(outer)[:, None]
        cols = np.arange(inner)[None, :]
        diff[rows, self.labels, cols] -= 1  # each (row, col) once: no duplicate indices
        self.write_bottom_diff(top, bottom, diff)

    def forward_gpu(self, bottom, top):
        softmax_gpu.loss_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        softmax_gpu.loss_backward_gpu(self, top, propagate_down, bottom)
