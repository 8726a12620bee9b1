"""HingeLoss: one-vs-all hinge loss (Caffe's HingeLossLayer).

With x the (N, D) scores and t_k = -1 for the label class, +1 otherwise:
    L1: loss = sum_{n,k} max(0, 1 + t_k x_nk) / N
    L2: loss = sum_{n,k} max(0, 1 + t_k x_nk)^2 / N
(Caffe's form, not torch's multi_margin_loss, which compares against the true
score.)  Backward: L1 -> t_k * [margin > 0] * w / N; L2 -> 2 t_k * margin * w / N.
"""
import numpy as np

from caffeine.cuda_layers import losses_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import LossLayer
from caffeine.layers.labels import prediction_gradient_wanted, read_labels


@register_layer("HingeLoss")
class HingeLossLayer(LossLayer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/


    def setup(self, bottom, top):
        norm = self.layer_param.hinge_loss_param.norm
        self.norm_l2 = norm == self.caffe_pb2.HingeLossParameter.L2

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        if bottom[1].count() != bottom[0].num:
            raise self.error("one label per sample expected", cls=ShapeError, blob=bottom[1].name,
                             expected=bottom[0].num, found=bottom[1].count())

    def forward_cpu(self, bottom, top):
        num = bottom[0].num
        x = bottom[0].host_data_readonly.reshape(num, -1)
        labels, _ = read_labels(self, bottom[1], x.shape[1])
        self.rows = np.arange(num)
        self.labels = labels
        signed = x.copy()
        signed[self.rows, labels] *= -1
        self.margin = np.maximum(0, 1 + signed)
        flat = self.margin.reshape(-1)
        loss = np.dot(flat, flat) if self.norm_l2 else flat.sum()
        top[0].data[...] = loss / num

    def backward_cpu(self, top, propagate_down, bottom):
        if not prediction_gradient_wanted(self, propagate_down):
            return
        num = bottom[0].num
        weight = top[0].host_diff_readonly.flat[0]
        diff = self.margin.copy()
        diff[self.rows, self.labels] *= -1
        if self.norm_l2:
            diff *= 2 * weight / num
        else:
            diff = np.sign(diff) * (weight / num)
        bottom[0].diff[...] = diff.reshape(bottom[0].shape)

    def forward_gpu(self, bottom, top):
        losses_gpu.hinge_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        losses_gpu.hinge_backward_gpu(self, top, propagate_down, bottom)
