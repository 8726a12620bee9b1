"""Elementwise neuron layers on the GPU (neuron.cu): one fused kernel per direction.

Each layer type maps to its kernels and the scalar parameters its CPU class parsed.  As in
caffeine.layers.neuron_common, an in-place layer whose gradient needs the original input
keeps a device copy of it during forward (Caffe's bottom_memory_).
"""
import numpy as np

from caffeine.cuda_layers.launch import cp, data_ro, diff_ro, i32, run, scalar, seed, work


def _s(layer, value):
    return scalar(value, layer.dtype)


# type -> (kernel name, forward scalars, backward operands, backward scalars); the operands
# are "top" (y), "bottom" (x) or "ref" (x when the layer needs it, else y, which has the
# same sign); None: no gradient.
def _spec(layer):
    t = layer.type
    if t == "ReLU":
        return "relu", (_s(layer, layer.negative_slope),), ("ref",), (_s(layer, layer.negative_slope),)
    if t == "Sigmoid":
        return "sigmoid", (), ("top",), ()
    if t == "TanH":
        return "tanh", (), ("top",), ()
    if t == "ELU":
        return "elu", (_s(layer, layer.alpha),), ("top", "ref"), (_s(layer, layer.alpha),)
    if t == "BNLL":
        return "bnll", (), ("bottom",), ()
    if t == "AbsVal":
        return "absval", (), ("bottom",), ()
    if t == "Clip":
        lim = (_s(layer, layer.min), _s(layer, layer.max))
        return "clip", lim, ("bottom",), lim
    if t == "Threshold":
        return "threshold", (_s(layer, layer.threshold),), None, ()
    if t == "Power":
        p = (_s(layer, layer.power), _s(layer, layer.scale), _s(layer, layer.shift))
        return "power", p, ("bottom",), p + (_s(layer, layer.diff_scale),)
    if t == "Exp":
        return ("exp", (_s(layer, layer.inner_scale), _s(layer, layer.outer_scale)), ("top",),
                (_s(layer, layer.inner_scale),))
    if t == "Log":
        s = (_s(layer, layer.input_scale), _s(layer, layer.input_shift))
        return ("log", (_s(layer, layer.base_scale),) + s, ("bottom",),
                (_s(layer, layer.backward_num_scale),) + s)
    raise KeyError(t)


def _needs_bottom(layer):
    return layer.backward_needs_bottom()


def forward_gpu(layer, bottom, top):
    if layer.type == "Swish":
        return _swish_forward(layer, bottom, top)
    name, fwd, _, _ = _spec(layer)
    x = data_ro(bottom[0])
    inplace = top[0] is bottom[0]
    layer._gpu_bottom_copy = x.copy() if inplace and _needs_bottom(layer) else None
    y = top[0].gpu_data
    if layer.type == "Power" and layer.diff_scale == 0:
        y[...] = layer.compute_forward(cp(), x)  # a constant: the layer's own fill
        return
    run("neuron", f"{name}_forward", x.size, x, y, *fwd, dtype=layer.dtype)


def backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    if layer.type == "Swish":
        return _swish_backward(layer, top, bottom)
    name, _, operands, bwd = _spec(layer)
    if operands is None:
        raise layer.error("Threshold has no gradient; set propagate_down: false on this layer "
                          "or keep it out of the backward path")
    y = data_ro(top[0])
    x = None
    if "bottom" in operands or ("ref" in operands and _needs_bottom(layer)):
        x = layer._gpu_bottom_copy if top[0] is bottom[0] else data_ro(bottom[0])
        if x is None:
            raise layer.error("backward called before an in-place forward")
    args = []
    for op in operands:
        if op == "top":
            args.append(y)
        elif op == "bottom":
            args.append(x)
        else:  # ref: the input if the layer needs it, else the output (same sign)
            args.append(x if x is not None else y)
    dy = diff_ro(top[0])
    run("neuron", f"{name}_backward", dy.size, dy, *args, bottom[0].gpu_diff, *bwd, dtype=layer.dtype)


def _swish_forward(layer, bottom, top):
    x = data_ro(bottom[0])
    sig = work(layer, "sigmoid", x.shape, layer.dtype)
    run("neuron", "swish_forward", x.size, x, top[0].gpu_data, sig, _s(layer, layer.beta), dtype=layer.dtype)


def _swish_backward(layer, top, bottom):
    dy = diff_ro(top[0])
    run("neuron", "swish_backward", dy.size, dy, data_ro(top[0]), layer._gpu_work["sigmoid"],
        bottom[0].gpu_diff, _s(layer, layer.beta), dtype=layer.dtype)


# ---- PReLU ----------------------------------------------------------------------------------
def _prelu_geometry(layer, x):
    channels = x.shape[1]
    dim = x.size // (x.shape[0] * channels) if x.size else 1
    return i32(channels), i32(dim), i32(channels if layer.channel_shared else 1)


def prelu_forward_gpu(layer, bottom, top):
    x = data_ro(bottom[0])
    layer._gpu_bottom_copy = x.copy() if top[0] is bottom[0] else None
    run("neuron", "prelu_forward", x.size, x, top[0].gpu_data, data_ro(layer.blobs[0]),
        *_prelu_geometry(layer, x), dtype=layer.dtype)


def prelu_backward_gpu(layer, top, propagate_down, bottom):
    x = layer._gpu_bottom_copy if top[0] is bottom[0] else data_ro(bottom[0])
    if x is None:
        raise layer.error("backward called before an in-place forward")
    dy = diff_ro(top[0])
    # slope gradient first: in place, writing the bottom diff overwrites the top diff
    if layer.param_propagate_down[0]:
        terms = work(layer, "terms", x.shape, layer.dtype)
        run("neuron", "prelu_param_terms", x.size, dy, x, terms, dtype=layer.dtype)
        t3 = terms.reshape(x.shape[0], x.shape[1], -1)
        sdiff = layer.blobs[0].gpu_diff
        if layer.channel_shared:
            sdiff[...] += t3.sum()
        else:
            sdiff[...] += t3.sum(axis=(0, 2))
    if propagate_down[0]:
        run("neuron", "prelu_backward", x.size, dy, x, bottom[0].gpu_diff, data_ro(layer.blobs[0]),
            *_prelu_geometry(layer, x), dtype=layer.dtype)


# ---- Dropout --------------------------------------------------------------------------------
def _dropout_run(layer, kernel, src, dst, in_place, train_seed):
    """dst = dropout of src, forward or backward (the same mask and factor both ways).  TRAIN
    (``train_seed`` set): each element kept with probability 1 - ratio, times ``scale`` when
    scale_train; otherwise the identity with scale_train (a copy unless in place), else Caffe's
    TEST factor 1 - ratio."""
    dt = layer.dtype
    if train_seed is not None:
        factor = layer.scale if layer.scale_train else 1.0
        run("neuron", kernel, src.size, src, dst, train_seed, np.float32(layer.ratio),
            scalar(factor, dt), dtype=dt)
    elif layer.scale_train:
        if not in_place:
            dst[...] = src
    else:
        run("neuron", kernel, src.size, src, dst, np.uint64(0), np.float32(0.0),
            scalar(1.0 - layer.ratio, dt), dtype=dt)


def dropout_forward_gpu(layer, bottom, top):
    x, y = data_ro(bottom[0]), top[0].gpu_data
    train_seed = None
    if layer._train():
        # the mask is a function of (seed, element): backward regenerates it, nothing stored
        layer._gpu_seed = train_seed = seed(layer)
        layer._gpu_count = x.size
    _dropout_run(layer, "dropout_forward", x, y, top[0] is bottom[0], train_seed)


def dropout_backward_gpu(layer, top, propagate_down, bottom):
    if not propagate_down[0]:
        return
    dy, dx = diff_ro(top[0]), bottom[0].gpu_diff
    train_seed = None
    if layer._train():
        if getattr(layer, "_gpu_count", None) != dy.size:
            raise layer.error("backward called without a matching TRAIN forward")
        train_seed = layer._gpu_seed
    _dropout_run(layer, "dropout_backward", dy, dx, top[0] is bottom[0], train_seed)


def uniform_host(seed_value, count):
    """The dropout/pooling kernels' uniforms, computed with numpy (for tests): SplitMix64 of
    seed + (i + 1) * golden_gamma, top 24 bits / 2^24."""
    with np.errstate(over="ignore"):
        i = np.arange(count, dtype=np.uint64)
        z = np.uint64(seed_value) + (i + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)

