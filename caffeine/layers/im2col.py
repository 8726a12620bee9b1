"""Im2col (Caffe's Im2colLayer): expose the im2col column buffer as a blob.

Top shape: the bottom's with ``channels * prod(kernel)`` channels and the conv
output size along each spatial axis; per image the top is exactly Caffe's column
matrix (rows ``(c, k...)``, columns the output positions).  Backward is col2im.
"""
import math

from caffeine.cuda_layers import conv_gpu
from caffeine.errors import ShapeError
from caffeine.layers import conv_utils, register_layer
from caffeine.layers.base import Layer
from caffeine.layers.base_conv import channel_axis_of, parse_geometry


@register_layer("Im2col")
class Im2colLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    exact_num_top = 1

    def setup(self, bottom, top):
        cp = self.layer_param.convolution_param
        self.force_nd_im2col = cp.force_nd_im2col
        self.channel_axis = channel_axis_of(self, bottom[0], cp.axis)
        self.num_spatial_axes = bottom[0].num_axes - self.channel_axis - 1
        if self.num_spatial_axes < 1:
            raise self.error("Im2col needs at least one spatial axis after the channel axis", cls=ShapeError,
                             expected=f">= {self.channel_axis + 2} axes", found=bottom[0].shape)
        self.kernel, self.stride, self.pad, self.dilation = parse_geometry(self, cp, self.num_spatial_axes)

    def reshape(self, bottom, top):
        shape = bottom[0].shape
        first_spatial = self.channel_axis + 1
        if len(shape) != first_spatial + self.num_spatial_axes:
            raise self.error("bottom num_axes may not change", cls=ShapeError,
                             expected=first_spatial + self.num_spatial_axes, found=len(shape))
        spatial = shape[first_spatial:]
        for axis, (size, k, p, d) in enumerate(zip(spatial, self.kernel, self.pad, self.dilation)):
            extent = conv_utils.kernel_extent(k, d)
            if size + 2 * p < extent:
                raise self.error(f"kernel larger than padded input along spatial axis {axis}", cls=ShapeError,
                                 expected=f"input + 2*pad >= kernel extent {extent}",
                                 found=f"input {size} + 2*{p} = {size + 2 * p}")
        self.out_shape = conv_utils.conv_output_shape(spatial, self.kernel, self.stride, self.pad, self.dilation)
        self.num = bottom[0].count(0, self.channel_axis)
        self.channels = shape[self.channel_axis]
        top[0].reshape(shape[:self.channel_axis] + (self.channels * math.prod(self.kernel),) + self.out_shape)

    def _image_shape(self, blob):
        return (self.num, self.channels) + blob.shape[self.channel_axis + 1:]

    def forward_cpu(self, bottom, top):
        x = bottom[0].data.reshape(self._image_shape(bottom[0]))
        out = top[0].data.reshape((self.num, -1) + self.out_shape)
        conv_utils.im2col(x, self.kernel, self.pad, self.stride, self.dilation, out=out)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        shape = self._image_shape(bottom[0])
        cols = top[0].diff.reshape((self.num, -1) + self.out_shape)
        conv_utils.col2im(cols, shape, self.kernel, self.pad, self.stride, self.dilation,
                          out=bottom[0].diff.reshape(shape))

    def forward_gpu(self, bottom, top):
        conv_gpu.im2col_layer_forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        conv_gpu.im2col_layer_backward_gpu(self, top, propagate_down, bottom)
