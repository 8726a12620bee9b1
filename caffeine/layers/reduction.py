"""Reduction: SUM / ASUM / SUMSQ / MEAN over all axes from ``axis`` on, times ``coeff``
(Caffe's ReductionLayer).  The top keeps the leading axes: shape ``bottom.shape[:axis]``."""
import numpy as np

from caffeine.cuda_layers import reduction_gpu
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import canonical_axis
from caffeine.layers.base import Layer


@register_layer("Reduction")
class ReductionLayer(Layer):
    exact_num_bottom = 1
    exact_num_top = 1
    has_gpu_kernel = True  # layers_cuda/reduction.cu

    def setup(self, bottom, top):
        R = self.caffe_pb2.ReductionParameter
        self.op = self.layer_param.reduction_param.operation
        if self.op not in (R.SUM, R.ASUM, R.SUMSQ, R.MEAN):
            raise self.error("unknown reduction operation", field="operation",
                             expected="SUM|ASUM|SUMSQ|MEAN", found=self.op)

    def reshape(self, bottom, top):
        p = self.layer_param.reduction_param
        b = bottom[0]
        axis = canonical_axis(self, b, p.axis)
        self.num = b.count(0, axis)
        self.dim = b.count(axis)
        top[0].reshape(b.shape[:axis])
        self.coeff = float(p.coeff)
        if self.op == self.caffe_pb2.ReductionParameter.MEAN:
            self.coeff /= self.dim

    def forward_cpu(self, bottom, top):
        R = self.caffe_pb2.ReductionParameter
        x = bottom[0].data.reshape(self.num, self.dim)
        if self.op == R.ASUM:
            r = np.abs(x).sum(axis=1)
        elif self.op == R.SUMSQ:
            r = np.einsum("ij,ij->i", x, x)
        else:
            r = x.sum(axis=1)
        top[0].data.reshape(self.num)[...] = r * self.coeff

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        R = self.caffe_pb2.ReductionParameter
        g = (top[0].diff.reshape(self.num, 1) * self.coeff).astype(bottom[0].dtype, copy=False)
        out = bottom[0].diff.reshape(self.num, self.dim)
        if self.op == R.ASUM:
            out[...] = np.sign(bottom[0].data.reshape(self.num, self.dim)) * g
        elif self.op == R.SUMSQ:
            out[...] = 2 * bottom[0].data.reshape(self.num, self.dim) * g
        else:
            out[...] = np.broadcast_to(g, out.shape)

    def forward_gpu(self, bottom, top):
        reduction_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        reduction_gpu.backward_gpu(self, top, propagate_down, bottom)
