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
from caffeine.layers.base import LossLayer
from caffeine.layers.labels import (FLT_MIN, canonical_axis, check_label_count,
                                    ignore_label_of, prediction_gradient_wanted, read_labels)
from caffeine.layers.softmax import softmax, split_axis


@register_layer("SoftmaxWithLoss")
class SoftmaxWithLossLayer(LossLayer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_top = None
    min_top = 1
    max_top = 2

    def setup(self, bottom, top):
        self.ignore_label = ignore_label_of(self.layer_param.loss_param)
        self.normalization = self.normalization_mode()

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        self.axis = canonical_axis(self, bottom[0], self.layer_param.softmax_param.axis,
                                   "softmax_param.axis")
        self.dims = split_axis(bottom[0], self.axis)
        outer, _, inner = self.dims
        check_label_count(self, outer, inner, bottom[1], "softmax axis")
        if len(top) >= 2:
            top[1].reshape(bottom[0].shape)

    def forward_cpu(self, bottom, top):
        outer, channels, inner = self.dims
        prob = softmax(bottom[0].host_data_readonly.reshape(self.dims), axis=1)
        labels, valid = read_labels(self, bottom[1], channels, self.ignore_label)
        labels = labels.reshape(outer, 1, inner)
        valid = valid.reshape(outer, inner)
        p_true = np.take_along_axis(prob, labels, axis=1)[:, 0, :]
        loss = -np.log(np.maximum(p_true[valid], FLT_MIN)).sum(dtype=np.float64)
        self.norm = self.normalizer(self.normalization, outer, inner, int(valid.sum()))
        top[0].data[...] = loss / self.norm
        self.prob, self.labels, self.valid = prob, labels, valid
        if len(top) >= 2:
            top[1].data.reshape(self.dims)[...] = prob

    def backward_cpu(self, top, propagate_down, bottom):
        if not prediction_gradient_wanted(self, propagate_down):
            return
        outer, _, inner = self.dims
        diff = self.prob.copy()
        rows = np.arange(outer)[:, None]
        cols = np.arange(inner)[None, :]
        diff[rows, self.labels[:, 0, :], cols] -= 1  # each (row, col) once: no duplicate indices
        diff *= self.valid[:, None, :]
        diff *= top[0].host_diff_readonly.flat[0] / self.norm
        bottom[0].diff.reshape(self.dims)[...] = diff

    def forward_gpu(self, bottom, top):
        softmax_gpu.loss_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        softmax_gpu.loss_backward_gpu(self, top, propagate_down, bottom)
