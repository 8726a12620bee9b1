"""Pooling (Caffe's PoolingLayer): MAX, AVE and STOCHASTIC over (N, C, H, W) blobs.

The parameters are checked as Caffe's LayerSetUp does (with messages instead of CHECK
aborts); the maths lives in ``pooling_ops`` (shared with SPP).  STOCHASTIC samples in TRAIN
and takes the activation-weighted average in TEST, as Caffe's GPU code (its CPU code has
none).  The ``engine`` field is accepted and ignored.
"""
from caffeine.cuda_layers import pooling_gpu
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.axis_utils import require_nchw
from caffeine.layers.base import Layer
from caffeine.layers.pooling_ops import MAX, STOCHASTIC, PoolGeometry, Pooler

METHOD_NAMES = {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}


@register_layer("Pooling")
class PoolingLayer(Layer):
    has_gpu_kernel = True  # kernels in layers_cuda/, glue in caffeine/cuda_layers/

    exact_num_bottom = 1
    min_top = 1
    max_top = 2  # MAX may output its mask as a second top (Caffe's MaxTopBlobs)

    def setup(self, bottom, top):
        p = self.layer_param.pooling_param
        self.method = p.pool
        if self.method not in METHOD_NAMES:
            raise self.error("unknown pooling method", field="pool", expected="MAX, AVE or STOCHASTIC",
                             found=self.method)
        if len(top) > 1 and self.method != MAX:
            raise self.error("only MAX pooling has a second (mask) top", expected=1, found=len(top))
        self.global_pooling = p.global_pooling
        has_ks, has_kh, has_kw = p.HasField("kernel_size"), p.HasField("kernel_h"), p.HasField("kernel_w")
        if self.global_pooling:
            if has_ks or has_kh or has_kw:
                raise self.error("with global_pooling: true the kernel size cannot be specified",
                                 field="kernel_size")
        elif has_ks and (has_kh or has_kw):
            raise self.error("kernel size is kernel_size OR kernel_h and kernel_w; not both",
                             field="kernel_size")
        elif not has_ks and not (has_kh and has_kw):
            raise self.error("kernel_size is required (for non-square windows both kernel_h and "
                             "kernel_w)", field="kernel_size")
        self.kernel = ((p.kernel_size, p.kernel_size) if has_ks else (p.kernel_h, p.kernel_w))
        if not self.global_pooling and min(self.kernel) <= 0:
            raise self.error("kernel dimensions cannot be zero", field="kernel_size",
                             expected="> 0", found=self.kernel)
        self.pad = self._pair(p, "pad", 0)
        self.stride = self._pair(p, "stride", 1)
        if min(self.stride) <= 0:
            raise self.error("stride must be positive", field="stride", expected="> 0", found=self.stride)
        if self.global_pooling and (self.pad != (0, 0) or self.stride != (1, 1)):
            raise self.error("with global_pooling: true only pad = 0 and stride = 1 are allowed",
                             field="global_pooling", found=f"pad {self.pad}, stride {self.stride}")
        if self.pad != (0, 0):
            if self.method == STOCHASTIC:
                raise self.error("padding is implemented only for AVE and MAX pooling", field="pad",
                                 expected=0, found=self.pad)
            if not self.global_pooling and (self.pad[0] >= self.kernel[0] or self.pad[1] >= self.kernel[1]):
                raise self.error("pad must be smaller than the kernel", field="pad",
                                 expected=f"< kernel {self.kernel}", found=self.pad)
        self.floor = p.round_mode == self.caffe_pb2.PoolingParameter.FLOOR
        self.pooler = None

    def _pair(self, p, name, default):
        has = p.HasField(name)
        has_h, has_w = p.HasField(name + "_h"), p.HasField(name + "_w")
        if has_h or has_w:
            if has or not (has_h and has_w):
                raise self.error(f"{name} is {name} OR {name}_h and {name}_w are required",
                                 field=name)
            return (getattr(p, name + "_h"), getattr(p, name + "_w"))
        value = getattr(p, name) if has else default
        return (value, value)

    def reshape(self, bottom, top):
        b = bottom[0]
        require_nchw(self, b)
        n, c, h, w = b.shape
        kernel = (h, w) if self.global_pooling else self.kernel
        g = self.pooler.geom if self.pooler is not None else None
        if g is None or (g.height, g.width, g.kernel_h, g.kernel_w) != (h, w) + tuple(kernel):
            g = PoolGeometry(h, w, kernel[0], kernel[1], self.stride[0], self.stride[1],
                             self.pad[0], self.pad[1], self.floor)
            if g.out_h <= 0 or g.out_w <= 0:
                raise self.error("the pooling window does not fit the (padded) input", cls=ShapeError,
                                 blob=b.name, expected=f"height >= {kernel[0] - 2 * self.pad[0]}, "
                                 f"width >= {kernel[1] - 2 * self.pad[1]}", found=(h, w))
            train = self.phase == self.caffe_pb2.TRAIN
            self.pooler = Pooler(g, self.method, train)
        shape = (n, c, g.out_h, g.out_w)
        for t in top:
            t.reshape(shape)

    def forward_cpu(self, bottom, top):
        x = bottom[0].host_data_readonly
        self.pooler.forward(x, top[0].data, self.rng)
        if len(top) > 1:
            self.pooler.mask(x, top[0].host_data_readonly, top[1].data)

    def backward_cpu(self, top, propagate_down, bottom):
        if not propagate_down[0]:
            return
        self.pooler.backward(bottom[0].host_data_readonly, top[0].host_diff_readonly, bottom[0].diff)

    def forward_gpu(self, bottom, top):
        pooling_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        pooling_gpu.backward_gpu(self, top, propagate_down, bottom)
