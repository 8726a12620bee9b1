"""DummyData, as Caffe's DummyDataLayer: tops of fixed shapes filled by fillers.

Constant fillers (the default: constant 0) fill once at setup; any other filler
refills its top on every forward, as Caffe.
"""
from caffeine import fillers
from caffeine.errors import ConfigError, ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.layers.input import shape_from_proto


@register_layer("DummyData")
class DummyDataLayer(Layer):
    exact_num_bottom = 0
    min_top = 1

    def setup(self, bottom, top):
        p = self.layer_param.dummy_data_param
        num_top = len(top)
        nf = len(p.data_filler)
        if nf not in (0, 1, num_top):
            raise self.error("dummy_data_param.data_filler must be given 0, 1 or once per top blob",
                             field="dummy_data_param.data_filler", expected=f"0, 1 or {num_top}", found=nf)
        shapes = self._shapes(p, num_top)
        if nf == 0:
            self.fillers = [self.caffe_pb2.FillerParameter(type="constant", value=0)] * num_top
        else:
            self.fillers = [p.data_filler[0 if nf == 1 else i] for i in range(num_top)]
        self.refill = [f.type != "constant" for f in self.fillers]
        for t, shape in zip(top, shapes):
            t.reshape(shape)
        for i in range(num_top):  # every top once here; non-constant ones again every forward
            self._fill(top, i)

    def _shapes(self, p, num_top):
        legacy = len(p.num)
        if legacy and len(p.shape):
            raise self.error("dummy_data_param: give either shape or the legacy num/channels/height/width, "
                             "not both", field="dummy_data_param.shape")
        if legacy:
            if legacy not in (1, num_top):
                raise self.error("dummy_data_param.num must be given once or once per top blob",
                                 field="dummy_data_param.num", expected=f"1 or {num_top}", found=legacy)
            for name in ("channels", "height", "width"):
                if len(getattr(p, name)) != legacy:
                    raise self.error(f"dummy_data_param.{name} must be given as many times as num",
                                     field=f"dummy_data_param.{name}", expected=legacy,
                                     found=len(getattr(p, name)))
            k = (lambda i: 0) if legacy == 1 else (lambda i: i)
            return [(p.num[k(i)], p.channels[k(i)], p.height[k(i)], p.width[k(i)]) for i in range(num_top)]
        n = len(p.shape)
        if n not in (1, num_top):
            raise self.error("dummy_data_param.shape must be given once or once per top blob",
                             cls=ShapeError, field="dummy_data_param.shape", expected=f"1 or {num_top}",
                             found=n)
        return [shape_from_proto(self, p.shape[0 if n == 1 else i], "dummy_data_param.shape")
                for i in range(num_top)]

    def _fill(self, top, i):
        try:
            fillers.fill(top[i], self.fillers[i])
        except ConfigError as exc:
            raise exc.with_context(layer=self.name, layer_type=self.type, field="dummy_data_param.data_filler")

    def reshape(self, bottom, top):
        pass  # shapes are fixed at setup, as Caffe

    def forward_cpu(self, bottom, top):
        for i, refill in enumerate(self.refill):
            if refill:
                self._fill(top, i)
