"""MultinomialLogisticLoss: -1/N sum_n log(p[n, label_n]) on given probabilities.

Caffe's MultinomialLogisticLossLayer: bottom[0] holds probabilities (N, D)
(all axes after the first flattened), bottom[1] one label per sample; the
probability is floored at kLOG_THRESHOLD = 1e-20 before the log, and the same
floor is used in backward: dp[n, label] = -loss_weight / (N * max(p, 1e-20)).
"""
import numpy as np

from caffeine.cuda_layers import prob_losses_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import LossLayer
from caffeine.layers.labels import LOG_THRESHOLD, prediction_gradient_wanted, read_labels


@register_layer("MultinomialLogisticLoss")
class MultinomialLogisticLossLayer(LossLayer):
    has_gpu_kernel = True  # layers_cuda/prob_losses.cu

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if bottom[1].count() != bottom[0].num:
            raise self.error("one label per sample expected (label shape N or N x 1 x 1 x 1)",
                             cls=ShapeError, blob=bottom[1].name,
                             expected=bottom[0].num, found=bottom[1].shape)

    def forward_cpu(self, bottom, top):
        num = bottom[0].num
        prob = bottom[0].host_data_readonly.reshape(num, -1)
        labels, _ = read_labels(self, bottom[1], prob.shape[1])
        self.labels = labels
        self.p_true = np.maximum(prob[np.arange(num), labels], LOG_THRESHOLD)
        top[0].data[...] = -np.log(self.p_true).sum(dtype=np.float64) / num

    def backward_cpu(self, top, propagate_down, bottom):
        if not prediction_gradient_wanted(self, propagate_down):
            return
        num = bottom[0].num
        scale = -top[0].host_diff_readonly.flat[0] / num
        diff = bottom[0].diff.reshape(num, -1)
        diff[...] = 0
        diff[np.arange(num), self.labels] = scale / self.p_true

    def forward_gpu(self, bottom, top):
        prob_losses_gpu.mll_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        prob_losses_gpu.mll_backward_gpu(self, top, propagate_down, bottom)
