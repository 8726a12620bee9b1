"""Reshape: change a blob's shape without touching its data (Caffe's ReshapeLayer).

``reshape_param.shape`` dims: 0 copies the bottom's dim at that position, -1 is
inferred from the count (at most one); ``axis``/``num_axes`` choose the range of
bottom axes replaced (axis may be negative: -1 means "after the last axis").  The
top shares data and diff with the bottom, so forward and backward move nothing.
"""
from caffeine.errors import ShapeError
from caffeine.layers import register_layer
from caffeine.layers.base import ViewLayer


@register_layer("Reshape")
class ReshapeLayer(ViewLayer):

    exact_num_bottom = 1
    exact_num_top = 1

    def setup(self, bottom, top):
        dims = [int(d) for d in self.layer_param.reshape_param.shape.dim]
        self.new_dims = dims
        self.copy_axes = [i for i, d in enumerate(dims) if d == 0]
        inferred = [i for i, d in enumerate(dims) if d == -1]
        if len(inferred) > 1:
            raise self.error("new shape contains multiple -1 dims; at most a single (1) value of -1 "
                             "may be specified", field="shape", expected="at most one -1", found=dims)
        bad = [d for d in dims if d < -1]
        if bad:
            raise self.error("shape dims must be positive, 0 (copy) or -1 (infer)", field="shape",
                             expected=">= -1", found=dims)
        self.inferred_axis = inferred[0] if inferred else -1
        self.constant_count = 1
        for d in dims:
            if d > 0:
                self.constant_count *= d

    def reshape(self, bottom, top):
        p = self.layer_param.reshape_param
        b = bottom[0]
        n = b.num_axes
        start = p.axis if p.axis >= 0 else n + p.axis + 1
        if not 0 <= start <= n:
            raise self.error(f"axis {p.axis} out of range for a {n}-D bottom", cls=ShapeError,
                             field="axis", expected=f"{-n - 1}..{n}", found=p.axis)
        if p.num_axes < -1:
            raise self.error("num_axes must be >= 0, or -1 for all", field="num_axes",
                             expected=">= -1", found=p.num_axes)
        end = n if p.num_axes == -1 else start + p.num_axes
        if end > n:
            raise self.error(f"end axis = axis + num_axes = {end} is out of range for a {n}-D bottom",
                             cls=ShapeError, field="num_axes", expected=f"<= {n}", found=end)
        shape = list(b.shape[:start]) + list(self.new_dims) + list(b.shape[end:])
        for i in self.copy_axes:
            if start + i >= n:
                raise self.error("new shape contains a 0, but there was no corresponding bottom axis "
                                 "to copy", cls=ShapeError, field="shape",
                                 expected=f"0 only at positions < {n - start}", found=self.new_dims)
            shape[start + i] = b.shape[start + i]
        if self.inferred_axis >= 0:
            explicit = self.constant_count * b.count(0, start) * b.count(end)
            for i in self.copy_axes:
                explicit *= shape[start + i]
            if explicit == 0 or b.count() % explicit:
                raise self.error(f"bottom count ({b.count()}) must be divisible by the product of the "
                                 f"specified dimensions ({explicit})", cls=ShapeError, field="shape",
                                 expected=f"a divisor of {b.count()}", found=explicit)
            shape[start + self.inferred_axis] = b.count() // explicit
        count = 1
        for s in shape:
            count *= s
        if count != b.count():
            raise self.error(f"output count must match input count: shape {tuple(shape)} has {count} "
                             f"elements, bottom {b.shape} has {b.count()}", cls=ShapeError, field="shape",
                             expected=b.count(), found=count)
        self.share_as(bottom, top, shape)
