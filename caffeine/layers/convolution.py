"""Convolution (Caffe's ConvolutionLayer): ``top = W * bottom + b`` over each bottom/top pair.

Weight ``(num_output, channels/group, *kernel)``; output size per spatial axis
``(in + 2*pad - (dilation*(kernel-1)+1)) / stride + 1``.  See base_conv for the maths.
"""
from caffeine.cuda_layers import conv_gpu
from caffeine.errors import ShapeError
from caffeine.layers import conv_utils, register_layer
from caffeine.layers.base_conv import BaseConvolution


@register_layer("Convolution")
class ConvolutionLayer(BaseConvolution):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    reverse_dimensions = False

    def compute_output_shape(self, input_shape):
        for axis, (size, k, p, d) in enumerate(zip(input_shape, self.kernel, self.pad, self.dilation)):
            extent = conv_utils.kernel_extent(k, d)
            if size + 2 * p < extent:
                raise self.error(f"kernel larger than padded input along spatial axis {axis}", cls=ShapeError,
                                 expected=f"input + 2*pad >= kernel extent {extent}",
                                 found=f"input {size} + 2*{p} = {size + 2 * p}")
        return conv_utils.conv_output_shape(input_shape, self.kernel, self.stride, self.pad, self.dilation)

    def forward_cpu(self, bottom, top):
        columns = self._forward_columns()
        fold = self._fold_bias(columns)
        weights = self._weights_with_bias() if fold else self._weight_groups()
        bias = None if fold else self._bias()
        for b, t in zip(bottom, top):
            x, y = self._images(b), self._images(t)
            for n0, n1 in self._blocks():
                cols = self._columns_of(columns, x[n0:n1], ones_row=fold, reuse=True)
                self._gemm_to_outputs(columns, weights, cols, y[n0:n1], bias)

    def backward_cpu(self, top, propagate_down, bottom):
        want_w = self.param_propagate_down[0]
        columns = self._forward_columns()
        # the bias gradient comes out of the weight-gradient GEMM when both are wanted
        fold = want_w and self._bias_wanted() and self._fold_bias(columns)
        for dy, x, dx in self._backward_pairs(top, propagate_down, bottom, bias_diff=not fold):
            for n0, n1 in self._blocks():
                rows = self._rows(dy[n0:n1])
                if want_w:
                    cols = self._columns_of(columns, x[n0:n1], ones_row=fold, reuse=True)
                    self._accumulate_weight_diff(rows, cols, with_bias=fold)
                if dx is not None:
                    self._backward_data(dy[n0:n1], rows, dx[n0:n1])

    def forward_gpu(self, bottom, top):
        conv_gpu.conv_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        conv_gpu.conv_backward_gpu(self, top, propagate_down, bottom)
