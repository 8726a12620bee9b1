"""The neuron, dropout, solver-update and data-transform kernels, built for the host
(host_shim.h + g++ + ctypes), against the CPU layers, caffeine/solvers/updates.py and the
DataTransformer."""
import numpy as np
import pytest

from caffeine.cuda_layers.neuron_gpu import uniform_host
from caffeine.solvers import updates
from caffeine.testing import cuda_host
from caffeine.testing.layer_helpers import blob_from, empty_tops, make_layer

pytestmark = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler for the host shim")
I = np.int32
F = np.float64


# (prototxt, kernel, forward scalars(layer), backward operands, backward scalars(layer))
NEURONS = [
    ('type: "ReLU" relu_param { negative_slope: 0.2 }', "relu", lambda l: (F(l.negative_slope),), ("x",),
     lambda l: (F(l.negative_slope),)),
    ('type: "Sigmoid"', "sigmoid", lambda l: (), ("y",), lambda l: ()),
    ('type: "TanH"', "tanh", lambda l: (), ("y",), lambda l: ()),
    ('type: "ELU" elu_param { alpha: 0.7 }', "elu", lambda l: (F(l.alpha),), ("y", "x"), lambda l: (F(l.alpha),)),
    ('type: "BNLL"', "bnll", lambda l: (), ("x",), lambda l: ()),
    ('type: "AbsVal"', "absval", lambda l: (), ("x",), lambda l: ()),
    ('type: "Clip" clip_param { min: -0.4 max: 0.9 }', "clip", lambda l: (F(l.min), F(l.max)), ("x",),
     lambda l: (F(l.min), F(l.max))),
    ('type: "Power" power_param { power: 2.5 scale: 0.7 shift: 3 }', "power",
     lambda l: (F(l.power), F(l.scale), F(l.shift)), ("x",),
     lambda l: (F(l.power), F(l.scale), F(l.shift), F(l.diff_scale))),
    ('type: "Power" power_param { power: 2 scale: -0.5 shift: 1 }', "power",
     lambda l: (F(l.power), F(l.scale), F(l.shift)), ("x",),
     lambda l: (F(l.power), F(l.scale), F(l.shift), F(l.diff_scale))),
    ('type: "Exp" exp_param { base: 3 scale: 0.5 shift: -1 }', "exp",
     lambda l: (F(l.inner_scale), F(l.outer_scale)), ("y",), lambda l: (F(l.inner_scale),)),
    ('type: "Log" log_param { base: 2 scale: 0.5 shift: 4 }', "log",
     lambda l: (F(l.base_scale), F(l.input_scale), F(l.input_shift)), ("x",),
     lambda l: (F(l.backward_num_scale), F(l.input_scale), F(l.input_shift))),
]


@pytest.mark.parametrize("spec", NEURONS, ids=[s[1] + str(i) for i, s in enumerate(NEURONS)])
def test_neuron_kernels_match_the_cpu_layers(spec):
    text, name, fwd, operands, bwd = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5))
    x[0, 0, :3] = [0.0, -0.4, 0.9]  # kinks and clip bounds
    layer = make_layer(text)
    bottom, top = [blob_from(x)], empty_tops(1)
    layer.layer_setup(bottom, top)
    layer.forward(bottom, top)
    dy = rng.standard_normal(x.shape)
    top[0].diff[...] = dy
    layer.backward(top, [True], bottom)
    y = np.zeros_like(x)
    cuda_host.launch("neuron", f"{name}_forward", x.size, (x, y) + fwd(layer), dtype=F)
    np.testing.assert_allclose(y, top[0].data, rtol=1e-14, atol=1e-300)
    dx = np.zeros_like(x)
    args = tuple({"x": x, "y": y}[o] for o in operands)
    cuda_host.launch("neuron", f"{name}_backward", x.size, (dy,) + args + (dx,) + bwd(layer), dtype=F)
    np.testing.assert_allclose(dx, bottom[0].diff, rtol=1e-13, atol=1e-300)


def test_swish_threshold_and_prelu_kernels():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    dy = rng.standard_normal(x.shape)
    y, s, dx = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    beta = 1.3
    cuda_host.launch("neuron", "swish_forward", x.size, (x, y, s, F(beta)), dtype=F)
    sig = 1 / (1 + np.exp(-beta * x))
    np.testing.assert_allclose(y, x * sig, rtol=1e-13)
    cuda_host.launch("neuron", "swish_backward", x.size, (dy, y, s, dx, F(beta)), dtype=F)
    np.testing.assert_allclose(dx, dy * (sig + beta * x * sig * (1 - sig)), rtol=1e-12)
    cuda_host.launch("neuron", "threshold_forward", x.size, (x, y, F(0.1)), dtype=F)
    np.testing.assert_array_equal(y, (x > 0.1).astype(float))
    slope = np.array([0.1, -0.2, 0.3])
    cuda_host.launch("neuron", "prelu_forward", x.size, (x, y, slope, I(3), I(4), I(1)), dtype=F)
    np.testing.assert_allclose(y, np.where(x > 0, x, x * slope[None, :, None]), rtol=1e-15)
    cuda_host.launch("neuron", "prelu_forward", x.size, (x, y, slope, I(3), I(4), I(3)), dtype=F)  # shared
    np.testing.assert_allclose(y, np.where(x > 0, x, x * 0.1), rtol=1e-15)
    terms = np.zeros_like(x)
    cuda_host.launch("neuron", "prelu_param_terms", x.size, (dy, x, terms), dtype=F)
    np.testing.assert_allclose(terms, np.where(x <= 0, dy * x, 0), rtol=1e-15)


def test_dropout_mask_is_the_counter_based_stream():
    n = 5000
    x = np.random.default_rng(2).standard_normal(n).astype(np.float32)
    y = np.zeros_like(x)
    seed = np.uint64(987654321987)
    cuda_host.launch("neuron", "dropout_forward", n, (x, y, seed, np.float32(0.25), np.float32(4 / 3)))
    keep = uniform_host(seed, n) >= np.float32(0.25)
    np.testing.assert_array_equal(y, np.where(keep, x * np.float32(4 / 3), 0))
    assert abs(keep.mean() - 0.75) < 0.02
    dy = np.ones_like(x)
    dx = np.zeros_like(x)
    cuda_host.launch("neuron", "dropout_backward", n, (dy, dx, seed, np.float32(0.25), np.float32(4 / 3)))
    np.testing.assert_array_equal(dx != 0, keep)
    # another seed gives another mask; the uniforms look uniform
    other = uniform_host(seed + np.uint64(1), n)
    assert (other >= 0.25).mean() == pytest.approx(0.75, abs=0.02) and not np.array_equal(other >= 0.25, keep)
    u = uniform_host(1, 100000)
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005


class _Param:
    momentum, momentum2, delta, rms_decay = 0.9, 0.999, 1e-8, 0.98
    weight_decay, regularization_type, iter_size, clip_gradients = 0.0, "L2", 1, -1.0


@pytest.mark.parametrize("rule", sorted(updates.RULES))
def test_solver_update_kernels_match_updates_py_bit_for_bit(rule):
    """Five steps of each fused kernel equal caffeine/solvers/updates.py exactly (float32)."""
    from caffeine.cuda_layers.solver_gpu import gpu_update
    param = _Param()
    if rule in ("AdaGrad", "RMSProp"):
        param.momentum = 0.0
    if rule == "AdaDelta":
        param.momentum, param.delta = 0.95, 1e-6
    hp = updates.Hyper(param)
    cls = updates.RULES[rule]
    rng = np.random.default_rng(3)
    n = 257
    hist_cpu = [np.zeros(n, np.float32) for _ in range(cls.history_sets)]
    hist_dev = [np.zeros(n, np.float32) for _ in range(cls.history_sets)]
    scratch = [np.empty(n, np.float32) for _ in range(getattr(cls, "scratch", 0))]
    kernel_calls = []

    def host_run(file_stem, name, count, *args, dtype=np.float32):
        kernel_calls.append(name)
        cuda_host.launch(file_stem, name, count, args, dtype=dtype)

    import caffeine.cuda_layers.solver_gpu as solver_gpu
    original = solver_gpu.run
    solver_gpu.run = host_run
    try:
        for it in range(5):
            g = rng.standard_normal(n).astype(np.float32)
            g_cpu, g_dev = g.copy(), g.copy()
            rate = np.float32(0.01 * (it + 1))
            cls.compute(g_cpu, hist_cpu, rate, hp, it, scratch)
            gpu_update(rule, g_dev, hist_dev, rate, hp, it)
            np.testing.assert_array_equal(g_dev, g_cpu)
            for a, b in zip(hist_dev, hist_cpu):
                np.testing.assert_array_equal(a, b)
    finally:
        solver_gpu.run = original
    assert kernel_calls == [f"{rule.lower()}_update"] * 5


@pytest.mark.parametrize("mean", ["none", "file", "values", "value"])
def test_data_transform_kernel_matches_the_transformer(mean):
    from caffeine.data.transformer import DataTransformer
    from caffeine.proto import caffe_pb2
    rng = np.random.default_rng(4)
    n, c, h, w, crop = 3, 3, 7, 6, 4
    batch = rng.integers(0, 256, size=(n, c, h, w), dtype=np.uint8)
    param = caffe_pb2.TransformationParameter(scale=0.5, crop_size=crop, mirror=True)
    if mean == "values":
        param.mean_value.extend([10.0, 20.5, 30.0])
    elif mean == "value":
        param.mean_value.append(100.0)
    t = DataTransformer(param, caffe_pb2.TRAIN)
    if mean == "file":
        t.mean = rng.uniform(0, 255, size=(c, h, w)).astype(np.float32)
    h_off = np.array([0, 3, 1])
    w_off = np.array([2, 0, 1])
    mirror = np.array([True, False, True])
    ref = t.apply(batch, h_off, w_off, mirror)
    mode, mvals = {"none": (0, np.zeros(1, np.float32)), "file": (1, t.mean),
                   "values": (2, t.mean_values), "value": (2, t.mean_values)}[mean]
    out = np.zeros((n, c, crop, crop), np.float32)
    cuda_host.launch("data_transform", "transform_uint8", out.size,
                     (batch, I(c), I(h), I(w), I(crop), I(crop), h_off.astype(np.int32), w_off.astype(np.int32),
                      mirror.astype(np.int32), I(mode), np.ascontiguousarray(mvals, np.float32), I(mvals.size),
                      np.float32(0.5), out))
    np.testing.assert_array_equal(out, ref)


def test_copy_kernels():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 5))
    # crop: top (2, 3, 2, 3) at offsets (0, 0, 1, 2)
    geom = np.array([2, 3, 2, 3, 60, 20, 5, 1, 0, 0, 1, 2], np.int32)
    y = np.zeros((2, 3, 2, 3))
    cuda_host.launch("crop", "crop_forward", y.size, (x, I(4), geom, y), dtype=F)
    np.testing.assert_array_equal(y, x[:, :, 1:3, 2:5])
    # tile: (2, 12) -> (2, 3, 12), backward sums the copies
    t = np.zeros((2, 3, 60))
    cuda_host.launch("tile", "tile_forward", t.size, (x, I(3), I(60), t), dtype=F)
    np.testing.assert_array_equal(t, np.repeat(x.reshape(2, 1, 60), 3, axis=1))
    back = np.zeros((2, 60))
    cuda_host.launch("tile", "tile_backward", back.size, (t, I(3), I(60), back), dtype=F)
    np.testing.assert_allclose(back, 3 * x.reshape(2, 60))
    # concat / slice round trip along axis 1
    top = np.zeros((2, 5, 4, 5))
    cuda_host.launch("concat", "concat_copy", x.size, (x, I(1), I(20), I(5), I(3), I(2), top), dtype=F)
    np.testing.assert_array_equal(top[:, 2:], x)
    part = np.zeros_like(x)
    cuda_host.launch("slice", "slice_copy", x.size, (top, I(1), I(20), I(5), I(3), I(2), part), dtype=F)
    np.testing.assert_array_equal(part, x)
