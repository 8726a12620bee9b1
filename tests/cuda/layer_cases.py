"""One or more small cases per layer type of caffeine.layers.CATALOG, for the GPU parity
tests: (prototxt, bottom arrays, phase, propagate_down, number of tops, how to compare).

compare: "exact" (CPU and GPU must agree to float32 rounding), "random" (the two paths draw
different random numbers: a per-type consistency check instead), "host" (a host-only data
layer: forward only, its GPU path is the host fallback).
"""
import importlib
import pathlib

import numpy as np

TRAIN, TEST = 0, 1


class Case:
    def __init__(self, name, text, bottoms=(), phase=TRAIN, propagate=None, n_top=1, compare="exact",
                 inplace=False, top_diff=None, setup=None, dtype=np.float32):
        self.name = name
        self.text = text
        self.bottoms = bottoms          # callable(rng) -> list of arrays
        self.phase = phase
        self.propagate = propagate      # None: all True
        self.n_top = n_top
        self.compare = compare
        self.inplace = inplace          # top[0] is bottom[0]
        self.top_diff = top_diff        # None: random; a float: that constant (loss weight)
        self.setup = setup              # callable(layer) after layer_setup
        self.dtype = dtype

    @property
    def type(self):
        return self.text.split('"')[1]

    def __repr__(self):
        return self.name


def g(*shape):
    return lambda rng: rng.standard_normal(shape)


def arrays(*makers):
    return lambda rng: [m(rng) for m in makers]


def labels(n, classes, extra=()):
    return lambda rng: rng.integers(0, classes, size=n).astype(np.float64)


def positive(*shape):
    return lambda rng: rng.uniform(0.5, 2.0, size=shape)


W = 'weight_filler { type: "gaussian" std: 0.5 } bias_filler { type: "gaussian" std: 0.5 }'
CONV = f'num_output: 4 {W}'

CASES = [
    # ---- vision ----
    Case("conv2d", f'type: "Convolution" convolution_param {{ {CONV} kernel_size: 3 pad: 1 stride: 2 group: 2 }}',
         arrays(g(3, 4, 7, 6))),
    Case("conv2d_dilated_2bottoms", f'type: "Convolution" convolution_param {{ {CONV} kernel_h: 2 kernel_w: 3 '
         'dilation: 2 pad_h: 1 pad_w: 0 stride_h: 1 stride_w: 2 }', arrays(g(2, 3, 8, 9), g(2, 3, 8, 9)), n_top=2),
    Case("conv2d_1x1", f'type: "Convolution" convolution_param {{ {CONV} kernel_size: 1 }}', arrays(g(2, 3, 5, 4))),
    Case("conv3d", f'type: "Convolution" convolution_param {{ {CONV} kernel_size: 2 kernel_size: 3 kernel_size: 2 '
         'pad: 1 stride: 2 dilation: 1 dilation: 1 dilation: 2 }', arrays(g(2, 2, 5, 6, 7))),
    Case("conv2d_double", f'type: "Convolution" convolution_param {{ {CONV} kernel_size: 3 stride: 2 }}',
         arrays(g(2, 3, 7, 6)), dtype=np.float64),
    Case("deconv2d", f'type: "Deconvolution" convolution_param {{ {CONV} kernel_size: 3 pad: 1 stride: 2 group: 2 }}',
         arrays(g(2, 4, 4, 5))),
    Case("deconv3d", f'type: "Deconvolution" convolution_param {{ {CONV} kernel_size: 2 stride: 2 }}',
         arrays(g(2, 3, 3, 2, 4))),
    Case("im2col2d", 'type: "Im2col" convolution_param { kernel_size: 3 pad: 1 stride: 2 dilation: 2 }',
         arrays(g(2, 3, 7, 6))),
    Case("im2col3d", 'type: "Im2col" convolution_param { kernel_size: 2 stride: 1 pad: 1 }', arrays(g(2, 2, 3, 4, 3))),
    Case("inner_product", f'type: "InnerProduct" inner_product_param {{ num_output: 5 {W} }}', arrays(g(4, 3, 2, 2))),
    Case("inner_product_transpose", f'type: "InnerProduct" inner_product_param {{ num_output: 5 transpose: true {W} }}',
         arrays(g(4, 6))),
    Case("embed", f'type: "Embed" embed_param {{ num_output: 3 input_dim: 5 {W} }}',
         lambda rng: [rng.integers(0, 5, size=(4, 2)).astype(np.float64)], propagate=[False]),
    Case("pool_max_ceil_pad", 'type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 }',
         arrays(g(2, 3, 7, 6)), n_top=2),
    Case("pool_max_overlap", 'type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 }',
         arrays(g(2, 3, 8, 9))),
    Case("pool_ave_ceil_pad", 'type: "Pooling" pooling_param { pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 '
         'stride_w: 3 pad_h: 1 pad_w: 1 }', arrays(g(2, 3, 7, 8))),
    Case("pool_ave_floor", 'type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 round_mode: FLOOR }',
         arrays(g(2, 2, 8, 7))),
    Case("pool_global_max", 'type: "Pooling" pooling_param { pool: MAX global_pooling: true }', arrays(g(2, 3, 4, 5))),
    Case("pool_global_ave", 'type: "Pooling" pooling_param { pool: AVE global_pooling: true }', arrays(g(2, 3, 4, 5))),
    Case("pool_stochastic_test", 'type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 }',
         arrays(positive(2, 2, 7, 7)), phase=TEST),
    Case("pool_stochastic_train", 'type: "Pooling" pooling_param { pool: STOCHASTIC kernel_size: 3 stride: 2 }',
         arrays(positive(2, 2, 7, 7)), compare="random"),
    Case("pool_max_double", 'type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }',
         arrays(g(2, 2, 6, 6)), dtype=np.float64),
    Case("spp", 'type: "SPP" spp_param { pyramid_height: 2 pool: MAX }', arrays(g(2, 3, 5, 6))),
    Case("lrn_across", 'type: "LRN" lrn_param { local_size: 5 alpha: 0.3 beta: 0.75 k: 2 }', arrays(g(2, 7, 3, 4))),
    Case("lrn_within", 'type: "LRN" lrn_param { local_size: 3 alpha: 0.3 beta: 0.75 norm_region: WITHIN_CHANNEL }',
         arrays(g(2, 3, 5, 4))),
    Case("batch_norm_train", 'type: "BatchNorm"', arrays(g(4, 3, 3, 2))),
    Case("batch_norm_inplace", 'type: "BatchNorm"', arrays(g(4, 3, 5)), inplace=True),
    Case("batch_norm_global", 'type: "BatchNorm" batch_norm_param { use_global_stats: true }', arrays(g(4, 3, 2, 2)),
         setup=lambda layer: _fill_bn_stats(layer)),
    Case("mvn", 'type: "MVN" mvn_param { normalize_variance: true across_channels: false }', arrays(g(2, 3, 4, 4))),
    Case("mvn_across_inplace", 'type: "MVN" mvn_param { across_channels: true eps: 0.01 }', arrays(g(2, 3, 10, 12)),
         inplace=True),
    Case("mvn_mean_only", 'type: "MVN" mvn_param { normalize_variance: false }', arrays(g(2, 3, 4, 4))),
    Case("mvn_constant_rows_f64", 'type: "MVN"', lambda rng: [np.repeat(rng.standard_normal((2, 3, 1)), 5, axis=2)],
         dtype=np.float64),
    Case("scale", 'type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } }', arrays(g(2, 3, 4))),
    Case("bias", 'type: "Bias" bias_param { filler { type: "gaussian" } }', arrays(g(2, 3, 4))),
    Case("scale_2bottoms", 'type: "Scale" scale_param { axis: 1 bias_term: true bias_filler { type: "gaussian" } }',
         arrays(g(2, 3, 4, 5), g(3, 4))),
    Case("scale_2bottoms_only_scale_diff", 'type: "Scale" scale_param { axis: 0 }', arrays(g(2, 3, 4), g(2, 3)),
         propagate=[False, True]),
    Case("scale_f64", 'type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } }', arrays(g(2, 3, 4)),
         dtype=np.float64),
    Case("scale_inplace_axis0", 'type: "Scale" scale_param { axis: 0 num_axes: 2 bias_term: true '
         'filler { type: "gaussian" } bias_filler { type: "gaussian" } }', arrays(g(2, 3, 4)), inplace=True),
    Case("scale_scalar", 'type: "Scale" scale_param { num_axes: 0 filler { type: "gaussian" } }',
         arrays(g(2, 3, 300))),
    Case("bias_2bottoms", 'type: "Bias" bias_param { axis: 0 }', arrays(g(2, 3, 4), g(2, 3))),
    Case("bias_inplace", 'type: "Bias" bias_param { num_axes: -1 filler { type: "gaussian" } }', arrays(g(2, 3, 4)),
         inplace=True),
    # ---- neurons ----
    Case("relu", 'type: "ReLU"', arrays(g(2, 3, 4))),
    Case("relu_leaky_inplace", 'type: "ReLU" relu_param { negative_slope: -0.3 }', arrays(g(2, 3, 4)), inplace=True),
    Case("sigmoid", 'type: "Sigmoid"', arrays(g(2, 3, 4))),
    Case("tanh_inplace", 'type: "TanH"', arrays(g(2, 3, 4)), inplace=True),
    Case("elu", 'type: "ELU" elu_param { alpha: 0.7 }', arrays(g(2, 3, 4))),
    Case("bnll", 'type: "BNLL"', arrays(g(2, 3, 4))),
    Case("absval_inplace", 'type: "AbsVal"', arrays(g(2, 3, 4)), inplace=True),
    Case("clip", 'type: "Clip" clip_param { min: -0.5 max: 0.7 }', arrays(g(2, 3, 4))),
    Case("swish", 'type: "Swish" swish_param { beta: 1.5 }', arrays(g(2, 3, 4))),
    Case("threshold", 'type: "Threshold" threshold_param { threshold: 0.2 }', arrays(g(2, 3, 4)), propagate=[False]),
    Case("power", 'type: "Power" power_param { power: 1.7 scale: 0.8 shift: 3 }', arrays(g(2, 3, 4))),
    Case("power_square", 'type: "Power" power_param { power: 2 scale: 0.5 shift: -1 }', arrays(g(2, 3, 4))),
    Case("power_constant", 'type: "Power" power_param { power: 2 scale: 0 shift: 3 }', arrays(g(2, 3))),
    Case("exp", 'type: "Exp" exp_param { base: 2 scale: 0.5 shift: 1 }', arrays(g(2, 3, 4))),
    Case("log_inplace", 'type: "Log" log_param { base: 10 scale: 2 shift: 9 }', arrays(g(2, 3, 4)), inplace=True),
    Case("prelu", 'type: "PReLU" prelu_param { filler { type: "gaussian" } }', arrays(g(2, 3, 4, 2))),
    Case("prelu_shared_inplace", 'type: "PReLU" prelu_param { channel_shared: true }', arrays(g(2, 3, 4)),
         inplace=True),
    Case("sigmoid_double", 'type: "Sigmoid"', arrays(g(3, 5)), dtype=np.float64),
    Case("dropout_train", 'type: "Dropout" dropout_param { dropout_ratio: 0.3 }', arrays(g(40, 50)), compare="random"),
    Case("dropout_test", 'type: "Dropout" dropout_param { dropout_ratio: 0.3 }', arrays(g(4, 5)), phase=TEST),
    # ---- losses and outputs ----
    Case("softmax", 'type: "Softmax"', arrays(g(2, 5, 3))),
    Case("softmax_axis2_inplace", 'type: "Softmax" softmax_param { axis: 2 }', arrays(g(2, 3, 6)), inplace=True),
    Case("softmax_loss", 'type: "SoftmaxWithLoss"', lambda rng: [rng.standard_normal((4, 5, 2)),
                                                                  rng.integers(0, 5, size=(4, 2)).astype(float)],
         propagate=[True, False], top_diff=1.7, n_top=2),
    Case("softmax_loss_ignore", 'type: "SoftmaxWithLoss" loss_param { ignore_label: 2 normalization: VALID }',
         lambda rng: [rng.standard_normal((6, 4)), np.array([0, 2, 3, 2, 1, 0.0])], propagate=[True, False],
         top_diff=0.5),
    Case("softmax_loss_batch", 'type: "SoftmaxWithLoss" loss_param { normalization: BATCH_SIZE }',
         lambda rng: [rng.standard_normal((3, 4, 2)), rng.integers(0, 4, size=(3, 2)).astype(float)],
         propagate=[True, False], dtype=np.float64),
    Case("accuracy", 'type: "Accuracy" accuracy_param { top_k: 2 }',
         lambda rng: [rng.standard_normal((6, 4)), rng.integers(0, 4, size=6).astype(float)], propagate=[False, False]),
    Case("argmax", 'type: "ArgMax" argmax_param { top_k: 2 out_max_val: true }', arrays(g(3, 5)), propagate=[False]),
    Case("euclidean_loss", 'type: "EuclideanLoss"', arrays(g(4, 3), g(4, 3)), top_diff=1.3),
    Case("hinge_l1", 'type: "HingeLoss"', lambda rng: [rng.standard_normal((5, 4)),
                                                        rng.integers(0, 4, size=5).astype(float)],
         propagate=[True, False], top_diff=1.0),
    Case("hinge_l2", 'type: "HingeLoss" hinge_loss_param { norm: L2 }',
         lambda rng: [rng.standard_normal((5, 4)), rng.integers(0, 4, size=5).astype(float)],
         propagate=[True, False], top_diff=0.7),
    Case("infogain_loss", 'type: "InfogainLoss"',
         lambda rng: [rng.standard_normal((4, 3)), rng.integers(0, 3, size=4).astype(float),
                      rng.uniform(0, 1, size=(3, 3))], propagate=[True, False, False], top_diff=1.0),
    Case("multinomial_logistic_loss", 'type: "MultinomialLogisticLoss"',
         lambda rng: [rng.uniform(0.05, 1, size=(4, 3)), rng.integers(0, 3, size=4).astype(float)],
         propagate=[True, False], top_diff=1.0),
    Case("sigmoid_ce_loss", 'type: "SigmoidCrossEntropyLoss" loss_param { ignore_label: -1 }',
         lambda rng: [rng.standard_normal((4, 5)), rng.integers(-1, 2, size=(4, 5)).astype(float)],
         propagate=[True, False], top_diff=1.5),
    Case("contrastive_loss", 'type: "ContrastiveLoss" contrastive_loss_param { margin: 2 }',
         lambda rng: [rng.standard_normal((6, 3)), rng.standard_normal((6, 3)),
                      (rng.uniform(size=6) > 0.5).astype(float)], propagate=[True, True, False], top_diff=1.0),
    Case("contrastive_loss_legacy", 'type: "ContrastiveLoss" contrastive_loss_param { margin: 4 legacy_version: true }',
         lambda rng: [rng.standard_normal((6, 3)), rng.standard_normal((6, 3)),
                      (rng.uniform(size=6) > 0.5).astype(float)], propagate=[True, True, False], top_diff=1.0),
    # ---- structure ----
    Case("concat", 'type: "Concat" concat_param { axis: 1 }', arrays(g(2, 3, 4), g(2, 1, 4), g(2, 2, 4))),
    Case("concat_one", 'type: "Concat"', arrays(g(2, 3))),
    Case("slice", 'type: "Slice" slice_param { axis: 2 slice_point: 1 slice_point: 3 }', arrays(g(2, 3, 5)),
         n_top=3),
    Case("split", 'type: "Split"', arrays(g(2, 3)), n_top=2),
    Case("flatten", 'type: "Flatten"', arrays(g(2, 3, 2, 2))),
    Case("reshape", 'type: "Reshape" reshape_param { shape { dim: 0 dim: -1 } }', arrays(g(2, 3, 2))),
    Case("crop", 'type: "Crop" crop_param { axis: 2 offset: 1 offset: 2 }', arrays(g(2, 3, 6, 7), g(2, 3, 3, 4)),
         propagate=[True, False]),
    Case("tile", 'type: "Tile" tile_param { axis: 1 tiles: 3 }', arrays(g(2, 3, 2))),
    Case("eltwise_prod", 'type: "Eltwise" eltwise_param { operation: PROD }', arrays(g(2, 3), g(2, 3), g(2, 3))),
    Case("eltwise_prod_stable", 'type: "Eltwise" eltwise_param { operation: PROD stable_prod_grad: true }',
         arrays(g(2, 3), g(2, 3), g(2, 3))),
    Case("eltwise_sum", 'type: "Eltwise" eltwise_param { operation: SUM coeff: 1 coeff: -0.5 coeff: 2 }',
         arrays(g(2, 3), g(2, 3), g(2, 3))),
    Case("eltwise_max", 'type: "Eltwise" eltwise_param { operation: MAX }', arrays(g(2, 3, 4), g(2, 3, 4), g(2, 3, 4))),
    Case("reduction", 'type: "Reduction" reduction_param { operation: SUMSQ axis: 1 coeff: 0.5 }', arrays(g(2, 3, 4))),
    Case("reduction_asum_all", 'type: "Reduction" reduction_param { operation: ASUM coeff: -2 }', arrays(g(2, 3, 4))),
    Case("reduction_mean_long_rows", 'type: "Reduction" reduction_param { operation: MEAN axis: -1 }',
         arrays(g(3, 600))),
    Case("reduction_sum_f64", 'type: "Reduction" reduction_param { operation: SUM axis: 2 }', arrays(g(2, 3, 4, 5)),
         dtype=np.float64),
    Case("silence", 'type: "Silence"', arrays(g(2, 3)), n_top=0),
    Case("filter", 'type: "Filter"', lambda rng: [rng.standard_normal((4, 3)), np.array([1.0, 0, 1, 1])],
         n_top=1, propagate=[True, False]),
    Case("batch_reindex", 'type: "BatchReindex"', lambda rng: [rng.standard_normal((4, 3)), np.array([2.0, 0, 2])],
         propagate=[True, False]),
    Case("rnn", f'type: "RNN" recurrent_param {{ num_output: 3 {W} }}',
         lambda rng: [rng.standard_normal((3, 2, 4)), np.array([[0.0, 0], [1, 1], [1, 0]])], propagate=[True, False]),
    Case("lstm", f'type: "LSTM" recurrent_param {{ num_output: 3 {W} }}',
         lambda rng: [rng.standard_normal((3, 2, 4)), np.array([[0.0, 0], [1, 1], [1, 0]])], propagate=[True, False]),
    # ---- data and inputs ----
    Case("input", 'type: "Input" input_param { shape { dim: 2 dim: 3 } }', compare="host"),
    Case("dummy_data", 'type: "DummyData" dummy_data_param { shape { dim: 2 dim: 3 } data_filler { type: "gaussian" } }',
         compare="host"),
    Case("parameter", 'type: "Parameter" parameter_param { shape { dim: 2 dim: 3 } }'),
    Case("memory_data", 'type: "MemoryData" memory_data_param { batch_size: 2 channels: 1 height: 2 width: 2 }',
         n_top=2, compare="host", setup=lambda layer: layer.reset(
             np.arange(8, dtype=np.float32).reshape(2, 1, 2, 2), np.array([0, 1], dtype=np.float32), 2)),
]


def _fill_bn_stats(layer):
    rng = np.random.default_rng(5)
    layer.blobs[0].data[...] = rng.standard_normal(layer.blobs[0].shape) * 3
    layer.blobs[1].data[...] = rng.uniform(1, 4, size=layer.blobs[1].shape) * 3
    layer.blobs[2].data[...] = 3

# Types whose cases need files or user code.  Data, ImageData and WindowData transform on the
# device (tests/cuda/test_data_gpu*.py); HDF5Data/HDF5Output/Python run on the host with lazy
# host<->device copies (the HDF5 layers in test_data_gpu_layers.py).
HOST_ONLY_WITHOUT_CASE = {
    "Data": "reads an LMDB", "ImageData": "reads image files", "HDF5Data": "reads HDF5 files",
    "HDF5Output": "writes HDF5 files", "WindowData": "reads image windows", "Python": "runs user code",
}


def _more_cases():
    """Cases and kernel-declaring types from tests/cuda/cases_<topic>.py modules (each has
    ``CASES`` and ``GPU_TYPES``), so a kernel family keeps its parity cases in its own file."""
    cases, gpu_types = [], set()
    for path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py")):
        module = importlib.import_module(path.stem)
        cases += module.CASES
        gpu_types |= set(getattr(module, "GPU_TYPES", ()))
    return cases, gpu_types


_extra_cases, EXTRA_GPU_TYPES = _more_cases()
CASES += _extra_cases
