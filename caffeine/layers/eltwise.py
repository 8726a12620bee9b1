"""Eltwise: element-wise PROD, SUM (with optional coefficients) or MAX of the bottoms
(Caffe's EltwiseLayer)."""
import numpy as np

from caffeine.cuda_layers import structure_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import blob_label
from caffeine.layers.base import Layer


@register_layer("Eltwise")
class EltwiseLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    min_bottom = 2
    exact_num_top = 1

    def setup(self, bottom, top):
        p = self.layer_param.eltwise_param
        E = self.caffe_pb2.EltwiseParameter
        self.op = p.operation
        if self.op not in (E.PROD, E.SUM, E.MAX):
            raise self.error("unknown elementwise operation", field="operation",
                             expected="PROD|SUM|MAX", found=self.op)
        if len(p.coeff) and len(p.coeff) != len(bottom):
            raise self.error("Eltwise takes one coefficient per bottom blob", field="coeff",
                             expected=len(bottom), found=len(p.coeff))
        if self.op == E.PROD and len(p.coeff):
            raise self.error("Eltwise only takes coefficients for summation (operation SUM)",
                             field="coeff", expected="no coeff with PROD", found=list(p.coeff))
        self.coeff = [float(c) for c in p.coeff] or [1.0] * len(bottom)
        self.stable_prod_grad = p.stable_prod_grad

    def reshape(self, bottom, top):
        for i in range(1, len(bottom)):
            if bottom[i].shape != bottom[0].shape:
                raise self.error(f"all bottoms must have the same shape; {blob_label(bottom, i)} differs "
                                 "from bottom[0]", cls=ShapeError, blob=bottom[i].name,
                                 expected=bottom[0].shape, found=bottom[i].shape)
        top[0].reshape(bottom[0].shape)

    def forward_cpu(self, bottom, top):
        E = self.caffe_pb2.EltwiseParameter
        out = top[0].data
        if self.op == E.PROD:
            np.multiply(bottom[0].data, bottom[1].data, out=out)
            for b in bottom[2:]:
                out *= b.data
        elif self.op == E.SUM:
            out[...] = 0
            for b, c in zip(bottom, self.coeff):
                out += b.data if c == 1.0 else c * b.data
        else:
            # Caffe's order of comparisons: bottom[1] wins a tie with bottom[0],
            # later bottoms must be strictly larger to take over.
            a, b = bottom[0].data, bottom[1].data
            mask = (a <= b).astype(np.int32)
            np.maximum(a, b, out=out)
            for i in range(2, len(bottom)):
                d = bottom[i].data
                better = d > out
                mask[better] = i
                np.maximum(out, d, out=out)
            self.mask = mask

    def backward_cpu(self, top, propagate_down, bottom):
        E = self.caffe_pb2.EltwiseParameter
        diff = top[0].diff
        for i, (b, pd) in enumerate(zip(bottom, propagate_down)):
            if not pd:
                continue
            if self.op == E.PROD:
                if self.stable_prod_grad:
                    others = [o.data for j, o in enumerate(bottom) if j != i]
                    g = others[0].copy()
                    for o in others[1:]:
                        g *= o
                    b.diff[...] = g * diff
                else:
                    # Caffe's fast form: top / bottom_i (inf/nan where bottom_i == 0)
                    b.diff[...] = top[0].data / b.data * diff
            elif self.op == E.SUM:
                c = self.coeff[i]
                b.diff[...] = diff if c == 1.0 else c * diff
            else:
                b.diff[...] = np.where(self.mask == i, diff, 0)

    def forward_gpu(self, bottom, top):
        structure_gpu.eltwise_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        structure_gpu.eltwise_backward_gpu(self, top, propagate_down, bottom)
