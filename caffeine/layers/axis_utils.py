"""Axis handling shared by the structural and broadcasting layers.

Caffe's ``Blob::CanonicalAxisIndex`` turns a possibly negative axis into an index;
Scale and Bias apply a parameter of shape ``bottom.shape[axis:axis + num_axes]``
by viewing the bottom as ``(outer, dim, inner)``.  The helpers here raise errors
that name the layer and the offending field instead of a bare shape error.
"""
from caffeine.errors import ShapeError


def canonical_axis(layer, blob, axis, field="axis"):
    """``blob.canonical_axis_index(axis)`` with an error naming the layer and field."""
    n = blob.num_axes
    if not -n <= axis < n:
        raise layer.error(f"{field} {axis} is out of range for a {n}-D bottom of shape {blob.shape}",
                          cls=ShapeError, field=field, expected=f"{-n}..{n - 1}", found=axis)
    return axis + n if axis < 0 else axis


def check_axis_or_legacy_dim(layer, param, legacy_field):
    """Caffe's Concat/Slice LayerSetUp: ``axis`` or the legacy ``concat_dim``/``slice_dim``, not both."""
    if param.HasField("axis") and param.HasField(legacy_field):
        raise layer.error(f"either axis or {legacy_field} should be specified; not both", field=legacy_field)


def axis_or_legacy_dim(layer, blob, param, legacy_field):
    """The axis a Concat/Slice works along: the legacy ``concat_dim``/``slice_dim`` when set
    (non-negative only, as in Caffe), else the canonical ``axis`` (which may be negative)."""
    if param.HasField(legacy_field):
        dim = getattr(param, legacy_field)
        if dim >= blob.num_axes:
            raise layer.error(f"{legacy_field} out of range", cls=ShapeError, field=legacy_field,
                              expected=f"0..{blob.num_axes - 1}", found=dim)
        return int(dim)
    return canonical_axis(layer, blob, param.axis)


def require_nchw(layer, blob):
    """Caffe's 4-axis check of the image layers (Pooling, SPP, LRN): (num, channels, height, width)."""
    if blob.num_axes != 4:
        raise layer.error("input must have 4 axes, corresponding to (num, channels, height, width)",
                          cls=ShapeError, blob=blob.name, expected=4, found=blob.num_axes)


def blob_label(blobs, i):
    name = getattr(blobs[i], "name", None)
    return f"bottom[{i}] '{name}'" if name else f"bottom[{i}]"


def param_shape(layer, bottom, axis, num_axes, what):
    """Shape of a learned Scale/Bias parameter: ``bottom.shape[axis:axis+num_axes]``.

    ``num_axes == -1`` extends to the last axis (Caffe's ScaleLayer::LayerSetUp).
    """
    axis = canonical_axis(layer, bottom, axis)
    if num_axes < -1:
        raise layer.error("num_axes must be non-negative, or -1 to extend to the end of bottom[0]",
                          field="num_axes", expected=">= -1", found=num_axes)
    if num_axes >= 0 and axis + num_axes > bottom.num_axes:
        raise layer.error(f"{what} blob's shape extends past bottom[0]'s shape {bottom.shape} when "
                          f"applied starting with axis {axis}", cls=ShapeError, field="num_axes",
                          expected=f"axis + num_axes <= {bottom.num_axes}", found=axis + num_axes)
    end = bottom.num_axes if num_axes == -1 else axis + num_axes
    return tuple(bottom.shape[axis:end])


def broadcast_dims(layer, bottom, param, axis, what):
    """(outer, dim, inner) so that ``bottom`` viewed as that shape meets ``param`` as (1, dim, 1).

    A scalar parameter (0 axes) uses axis 0, as Caffe does; otherwise the parameter's
    axes must equal the bottom's from ``axis`` on (Caffe's ScaleLayer::Reshape).
    """
    k = param.num_axes
    axis = 0 if k == 0 else canonical_axis(layer, bottom, axis)
    if axis + k > bottom.num_axes:
        raise layer.error(f"{what} blob of shape {param.shape} extends past bottom[0]'s shape "
                          f"{bottom.shape} when applied starting with axis {axis}", cls=ShapeError,
                          field="axis", expected=f"<= {bottom.num_axes - axis} {what} axes", found=k)
    expect = tuple(bottom.shape[axis:axis + k])
    if tuple(param.shape) != expect:
        raise layer.error(f"dimension mismatch between the {what} blob and bottom[0] axes "
                          f"{axis}..{axis + k - 1}", cls=ShapeError, field="axis",
                          expected=expect, found=tuple(param.shape))
    outer = bottom.count(0, axis)
    dim = param.count()
    inner = bottom.count(axis + k)
    return outer, dim, inner
