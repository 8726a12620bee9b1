"""Weight fillers, as Caffe's filler.hpp (constant, uniform, gaussian, positive_unitball,
xavier, msra, bilinear).  Random numbers come from the global seeded generator."""
import numpy as np

from caffeine import backend
from caffeine.errors import LayerConfigError

FAN_IN, FAN_OUT, AVERAGE = 0, 1, 2


def _fan_n(blob, variance_norm):
    # Caffe: fan_in = count / num, fan_out = count / channels (legacy 4-D view)
    count = blob.count()
    fan_in = count / blob.num
    fan_out = count / blob.channels
    if variance_norm == AVERAGE:
        return (fan_in + fan_out) / 2.0
    if variance_norm == FAN_OUT:
        return fan_out
    return fan_in


def _no_sparse(param, name):
    if param.sparse != -1:
        raise LayerConfigError(f"sparsity is not supported by the {name} filler", field="sparse",
                               expected=-1, found=param.sparse)


def fill(blob, param, rng=None):
    """Fill ``blob.data`` according to a FillerParameter."""
    rng = rng or backend.rng()
    kind = param.type
    shape = blob.shape
    data = blob.data
    if kind == "constant":
        data[...] = param.value
    elif kind == "uniform":
        data[...] = rng.uniform(param.min, param.max, size=shape)
    elif kind == "gaussian":
        data[...] = rng.normal(param.mean, param.std, size=shape)
        if param.sparse < -1:
            raise LayerConfigError("gaussian filler sparse must be >= -1", field="sparse",
                                   expected=">= -1", found=param.sparse)
        if param.sparse >= 0:
            # each output (row) keeps on average `sparse` non-zero weights
            if blob.num_axes < 1:
                raise LayerConfigError("sparse gaussian filler needs a blob with >= 1 axis")
            p = float(param.sparse) / float(shape[0])
            data *= rng.random(size=shape) < p
    elif kind == "positive_unitball":
        _no_sparse(param, kind)
        values = rng.random(size=shape)
        num = blob.num
        values = values.reshape(num, -1)
        values /= values.sum(axis=1, keepdims=True)
        data[...] = values.reshape(shape)
    elif kind == "xavier":
        _no_sparse(param, kind)
        scale = np.sqrt(3.0 / _fan_n(blob, param.variance_norm))
        data[...] = rng.uniform(-scale, scale, size=shape)
    elif kind == "msra":
        _no_sparse(param, kind)
        std = np.sqrt(2.0 / _fan_n(blob, param.variance_norm))
        data[...] = rng.normal(0.0, std, size=shape)
    elif kind == "bilinear":
        _no_sparse(param, kind)
        if blob.num_axes != 4 or shape[2] != shape[3]:
            raise LayerConfigError("bilinear filler needs a 4-D blob with a square kernel",
                                   expected="N x C x K x K", found=shape)
        w = shape[3]
        f = np.ceil(w / 2.0)
        c = (w - 1) / (2.0 * f)
        x = np.arange(w)
        k1 = 1 - np.abs(x / f - c)
        data[...] = np.outer(k1, k1)[None, None]
    else:
        raise LayerConfigError(f"unknown filler type '{kind}'", field="type",
                               expected="constant|uniform|gaussian|positive_unitball|xavier|msra|bilinear",
                               found=kind)
    return blob
