"""Input, as Caffe's InputLayer: tops of a declared shape that the user fills
(``net.blobs['data'].data[...] = x``); nothing is computed."""
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


def shape_from_proto(layer, blob_shape, field):
    """A BlobShape as a tuple, with negative dimensions rejected in the layer's name."""
    dims = tuple(int(d) for d in blob_shape.dim)
    if any(d < 0 for d in dims):
        raise layer.error("blob dimensions must be non-negative", cls=ShapeError, field=field,
                          expected=">= 0", found=dims)
    return dims


@register_layer("Input")
class InputLayer(Layer):
    exact_num_bottom = 0
    min_top = 1
    has_gpu_kernel = True  # nothing to compute on either side

    def setup(self, bottom, top):
        shapes = self.layer_param.input_param.shape
        n = len(shapes)
        # Caffe: the shape is given once (for every top), once per top, or not at all
        if n not in (0, 1, len(top)):
            raise self.error("input_param.shape must be given once, once per top blob, or not at all",
                             field="input_param.shape", expected=f"1 or {len(top)}", found=n)
        for i, t in enumerate(top):
            if n:
                t.reshape(shape_from_proto(self, shapes[0 if n == 1 else i], "input_param.shape"))

    def reshape(self, bottom, top):
        pass  # the user (or Net.reshape) sets the shapes

    def forward_cpu(self, bottom, top):
        pass

    def forward_gpu(self, bottom, top):
        pass

    def backward_gpu(self, top, propagate_down, bottom):
        pass
