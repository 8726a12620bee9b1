"""Parameter, as Caffe's ParameterLayer: outputs its learnable blob as a top.

The top shares the parameter's data; backward adds the top's gradient to the
parameter's (params accumulate, as every other layer's; Caffe shared the diff
memory instead, which a consumer overwriting its bottom diff would clobber).
"""
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.layers.input import shape_from_proto


@register_layer("Parameter")
class ParameterLayer(Layer):
    exact_num_bottom = 0
    exact_num_top = 1
    has_gpu_kernel = True  # data is shared; backward is one add through xp

    def setup(self, bottom, top):
        shape = shape_from_proto(self, self.layer_param.parameter_param.shape, "parameter_param.shape")
        if not self.blobs:  # Caffe: no filler; the values come from a caffemodel or stay 0
            self.blobs = [self.new_blob(*shape)]
        elif self.blobs[0].shape != shape:
            raise self.error("parameter blob shape does not match parameter_param.shape",
                             field="parameter_param.shape", expected=shape, found=self.blobs[0].shape)
        top[0].reshape(shape)
        top[0].share_data(self.blobs[0])

    def reshape(self, bottom, top):
        if top[0].shape != self.blobs[0].shape:
            top[0].reshape(self.blobs[0].shape)

    def forward_cpu(self, bottom, top):
        # again on every pass: the net may have re-pointed the param (shared weights, copy_from)
        top[0].share_data(self.blobs[0])

    forward_gpu = forward_cpu

    def backward_cpu(self, top, propagate_down, bottom):
        if self.param_propagate_down and self.param_propagate_down[0]:
            self.blobs[0].diff[...] += top[0].diff

    def backward_gpu(self, top, propagate_down, bottom):
        if self.param_propagate_down and self.param_propagate_down[0]:
            self.blobs[0].gpu_diff[...] += top[0].gpu_diff
