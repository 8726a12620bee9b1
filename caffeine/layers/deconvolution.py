"""Deconvolution (Caffe's DeconvolutionLayer): the transpose of Convolution.

Forward is Convolution's backward-data pass (col2im of ``W^T @ bottom``), backward is
its forward.  Weight ``(channels, num_output/group, *kernel)``; output size per axis
``stride*(in - 1) + dilation*(kernel-1) + 1 - 2*pad``.
"""
from caffeine.cuda_layers import conv_gpu
from caffeine.errors import ShapeError
from caffeine.layers import conv_utils, register_layer
from caffeine.layers.base_conv import BaseConvolution


@register_layer("Deconvolution")
class DeconvolutionLayer(BaseConvolution):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    reverse_dimensions = True

    def compute_output_shape(self, input_shape):
        out = conv_utils.deconv_output_shape(input_shape, self.kernel, self.stride, self.pad, self.dilation)
        for axis, (size, o, p) in enumerate(zip(input_shape, out, self.pad)):
            if o <= 0:
                raise self.error(f"padding removes the whole output along spatial axis {axis}", cls=ShapeError,
                                 expected="stride*(input-1) + kernel extent - 2*pad > 0",
                                 found=f"{o} (input {size}, pad {p})")
        return out

    def forward_cpu(self, bottom, top):
        bias = self._bias()
        for b, t in zip(bottom, top):
            x, y = self._images(b), self._images(t)
            for n0, n1 in self._blocks():
                self._backward_data(x[n0:n1], None, y[n0:n1], bias)

    def backward_cpu(self, top, propagate_down, bottom):
        want_w = self.param_propagate_down[0]
        weights, columns = self._weight_groups(), self._forward_columns()
        for dy, x, dx in self._backward_pairs(top, propagate_down, bottom):
            for n0, n1 in self._blocks():
                cols = self._columns_of(columns, dy[n0:n1])
                if want_w:
                    self._accumulate_weight_diff(self._rows(x[n0:n1]), cols)
                if dx is not None:
                    self._gemm_to_outputs(columns, weights, cols, dx[n0:n1])

    def forward_gpu(self, bottom, top):
        conv_gpu.deconv_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        conv_gpu.deconv_backward_gpu(self, top, propagate_down, bottom)
