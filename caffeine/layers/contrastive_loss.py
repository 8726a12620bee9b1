"""ContrastiveLoss (Caffe's ContrastiveLossLayer, Hadsell et al. 2006).

bottoms: a, b (N, C) feature pairs and y (N) similarity (int(y) != 0: similar).
With d^2 = ||a - b||^2 per pair:
    similar:     d^2
    dissimilar:  max(margin - d, 0)^2       (legacy_version: max(margin - d^2, 0))
    loss = sum / (2 N)
Backward follows Caffe exactly, including the 1e-4 it adds to d in the
non-legacy gradient (so the gradient is that of d + 1e-4, not d):
    similar:     +-w/N * (a - b)
    dissimilar:  -+w/N * mdist / (d + 1e-4) * (a - b)  where mdist = margin - d > 0
                 legacy: -+w/N * (a - b)               where margin - d^2 > 0
The sign is + for a and - for b.  No gradient into y.
"""
import numpy as np

from caffeine.cuda_layers import losses_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import LossLayer
from caffeine.layers.labels import label_backprop_error


@register_layer("ContrastiveLoss")
class ContrastiveLossLayer(LossLayer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 3

    def allow_force_backward(self, bottom_index):
        return bottom_index != 2

    def setup(self, bottom, top):
        param = self.layer_param.contrastive_loss_param
        self.margin = float(param.margin)
        self.legacy = bool(param.legacy_version)

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        a, b, y = bottom
        for blob in bottom:
            if blob.num_axes > 4:
                raise self.error(f"bottom '{blob.name}' must have at most 4 axes", cls=ShapeError,
                                 blob=blob.name, expected="<= 4 axes", found=blob.shape)
        for blob in (a, b):
            if blob.height != 1 or blob.width != 1:
                raise self.error(f"bottom '{blob.name}' must be N x C (x 1 x 1)", cls=ShapeError,
                                 blob=blob.name, expected="N x C x 1 x 1", found=blob.shape)
        if a.channels != b.channels:
            raise self.error("the two feature bottoms must have the same number of channels",
                             cls=ShapeError, blob=b.name, expected=a.channels, found=b.channels)
        if y.count() != a.num:
            raise self.error("the similarity bottom must hold one value per pair (N x 1 x 1 x 1)",
                             cls=ShapeError, blob=y.name, expected=a.num, found=y.shape)

    def forward_cpu(self, bottom, top):
        num = bottom[0].num
        a = bottom[0].host_data_readonly.reshape(num, -1)
        b = bottom[1].host_data_readonly.reshape(num, -1)
        y = bottom[2].host_data_readonly.reshape(-1)
        self.diff = a - b
        self.dist_sq = np.einsum("nc,nc->n", self.diff, self.diff)
        self.similar = np.trunc(y) != 0  # Caffe: static_cast<int>(y)
        if self.legacy:
            dissimilar = np.maximum(self.margin - self.dist_sq, 0)
        else:
            dissimilar = np.maximum(self.margin - np.sqrt(self.dist_sq), 0) ** 2
        per_pair = np.where(self.similar, self.dist_sq, dissimilar)
        top[0].data[...] = per_pair.sum(dtype=np.float64) / num / 2

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[2]:
            raise label_backprop_error(self, "similarity")
        if self.legacy:
            mdist = self.margin - self.dist_sq
            factor = -1.0
        else:
            dist = np.sqrt(self.dist_sq)
            mdist = self.margin - dist
            factor = -mdist / (dist + 1e-4)
        # per-pair multiplier of (a - b) before the +-w/N scale
        coeff = np.where(self.similar, 1.0, np.where(mdist > 0, factor, 0.0))
        grad = coeff.astype(self.diff.dtype)[:, None] * self.diff
        weight = top[0].host_diff_readonly.flat[0]
        for i, sign in ((0, 1.0), (1, -1.0)):
            if propagate_down[i]:
                alpha = sign * weight / bottom[i].num
                bottom[i].diff[...] = (alpha * grad).reshape(bottom[i].shape)

    def forward_gpu(self, bottom, top):
        losses_gpu.contrastive_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        losses_gpu.contrastive_backward_gpu(self, top, propagate_down, bottom)
