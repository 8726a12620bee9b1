"""Export a deploy Net to ONNX (opset 13), for onnxruntime, TensorRT, OpenVINO ...

    net = caffeine.Net("deploy.prototxt", "w.caffemodel", caffeine.TEST)
    export_onnx(net, "model.onnx")

Layer types: Input, Convolution, Deconvolution, Pooling (MAX/AVE/global), InnerProduct, ReLU
(leaky), PReLU, Sigmoid, TanH, AbsVal, BNLL, ELU, Power, LRN (across and within channel),
Dropout, Softmax, Concat, Eltwise (SUM with coefficients / PROD / MAX), BatchNorm, Scale, Bias,
Flatten, Reshape, Split.  Where Caffe and ONNX differ, the graph spells out Caffe's arithmetic:

- Pooling rounds its output size up (ceil) and then drops a last window that would start in
  the padding; ONNX rounds down.  The export reads the output size from the Net and pads the
  bottom/right edge explicitly so ONNX's floor gives the same size (padding is -inf for MAX).
- Caffe's AVE pooling divides each window by its size clipped to the padded input (H + pad),
  not by the full kernel; where that differs from ONNX's count_include_pad average the result
  is multiplied by a constant (kernel area / Caffe's divisor) map.
- InnerProduct flattens from its axis first (Flatten + Gemm with transB).
- BatchNorm's stored mean/variance are divided by its stored scale factor (Caffe's blob 2).
The batch dimension is symbolic ("N"); all other dimensions are the Net's.
"""
import numpy as np

from caffeine.errors import ConfigError

OPSET = 13
SUPPORTED = ("Input", "Convolution", "Deconvolution", "Pooling", "InnerProduct", "ReLU", "PReLU", "Sigmoid",
             "TanH", "AbsVal", "BNLL", "ELU", "Power", "LRN", "Dropout", "Softmax", "Concat", "Eltwise",
             "BatchNorm", "Scale", "Bias", "Flatten", "Reshape", "Split")


class ExportError(ConfigError):
    """The net holds something ONNX export cannot express."""


def _pair(repeated, h, w, default):
    """Caffe's kernel/stride/pad/dilation: explicit _h/_w, else repeated (1 or 2 values), else default."""
    if h or w:
        return int(h), int(w)
    values = list(repeated)
    if not values:
        return default, default
    if len(values) == 1:
        return int(values[0]), int(values[0])
    if len(values) == 2:
        return int(values[0]), int(values[1])
    raise ExportError("only 2-D convolution/pooling export to ONNX", expected="1 or 2 values", found=values)


class _Graph:
    def __init__(self, net):
        from onnx import helper
        self.helper = helper
        self.net = net
        self.nodes, self.initializers, self.inputs = [], [], []
        self.current = {}      # caffe blob name -> current ONNX tensor name
        self.used = set()

    def fresh(self, base):
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}__{k}"
        self.used.add(name)
        return name

    def const(self, base, array):
        from onnx import numpy_helper
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op, inputs, base, **attrs):
        out = self.fresh(base)
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=self.fresh(f"{base}/{op}"), **attrs))
        return out


def _conv(g, lp, layer, x, top, transpose=False):
    c = lp.convolution_param
    if c.axis != 1:
        raise ExportError("Convolution axis must be 1 for ONNX", field="axis", found=c.axis)
    kh, kw = _pair(c.kernel_size, c.kernel_h, c.kernel_w, 1)
    sh, sw = _pair(c.stride, c.stride_h, c.stride_w, 1)
    ph, pw = _pair(c.pad, c.pad_h, c.pad_w, 0)
    dh, dw = _pair(c.dilation, 0, 0, 1)
    inputs = [x, g.const(f"{lp.name}_W", layer.blobs[0].data.astype(np.float32))]
    if c.bias_term:
        inputs.append(g.const(f"{lp.name}_b", layer.blobs[1].data.astype(np.float32)))
    return g.node("ConvTranspose" if transpose else "Conv", inputs, top, kernel_shape=[kh, kw], strides=[sh, sw],
                  pads=[ph, pw, ph, pw], dilations=[dh, dw], group=int(c.group))


def _caffe_ave_divisor(size, out, k, s, p):
    """Per output index: Caffe's window size clipped to [-p, size + p)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    return end - start


def _pool(g, lp, bottom_shape, top_shape, x, top):
    c = lp.pooling_param
    method = c.pool
    if method not in (0, 1):
        raise ExportError("only MAX and AVE pooling export to ONNX", field="pool", found=method)
    if c.global_pooling:
        return g.node("GlobalMaxPool" if method == 0 else "GlobalAveragePool", [x], top)
    kh, kw = (int(c.kernel_h), int(c.kernel_w)) if c.kernel_h else (int(c.kernel_size),) * 2
    sh, sw = (int(c.stride_h), int(c.stride_w)) if c.stride_h else (int(c.stride),) * 2
    ph, pw = (int(c.pad_h), int(c.pad_w)) if (c.pad_h or c.pad_w) else (int(c.pad),) * 2
    H, W = bottom_shape[2], bottom_shape[3]
    OH, OW = top_shape[2], top_shape[3]
    # extra bottom/right padding so that ONNX's floor rounding yields Caffe's output size
    eh = (OH - 1) * sh + kh - H - ph
    ew = (OW - 1) * sw + kw - W - pw
    if eh < 0 or ew < 0:
        raise ExportError("pooling geometry ONNX cannot express", found=(eh, ew))
    pads = [ph, pw, eh, ew]
    if method == 0:
        return g.node("MaxPool", [x], top, kernel_shape=[kh, kw], strides=[sh, sw], pads=pads)
    divisor = np.outer(_caffe_ave_divisor(H, OH, kh, sh, ph), _caffe_ave_divisor(W, OW, kw, sw, pw))
    y = g.node("AveragePool", [x], top if np.all(divisor == kh * kw) else f"{top}_sum",
               kernel_shape=[kh, kw], strides=[sh, sw], pads=pads, count_include_pad=1)
    if np.all(divisor == kh * kw):
        return y
    ratio = (kh * kw / divisor).astype(np.float32)[None, None]
    return g.node("Mul", [y, g.const(f"{lp.name}_avediv", ratio)], top)


def _per_channel(g, name, values, rank, axis=1):
    """A constant shaped (C, 1, ..., 1) to broadcast over the axes after `axis`."""
    values = np.asarray(values, dtype=np.float32)
    return g.const(name, values.reshape(values.shape + (1,) * (rank - axis - values.ndim)))


def _lrn(g, lp, x, top):
    c = lp.lrn_param
    if c.norm_region == 0:      # ACROSS_CHANNELS: the same formula as ONNX LRN
        return g.node("LRN", [x], top, size=int(c.local_size), alpha=float(c.alpha), beta=float(c.beta),
                      bias=float(c.k))
    # WITHIN_CHANNEL (Caffe): x * (1 + alpha * avgpool_n(x^2, pad (n-1)/2))^-beta
    n, pad = int(c.local_size), (int(c.local_size) - 1) // 2
    sq = g.node("Mul", [x, x], f"{top}_sq")
    avg = g.node("AveragePool", [sq], f"{top}_avg", kernel_shape=[n, n], strides=[1, 1],
                 pads=[pad] * 4, count_include_pad=1)
    scaled = g.node("Mul", [avg, g.const(f"{lp.name}_alpha", np.float32(c.alpha))], f"{top}_scaled")
    base = g.node("Add", [scaled, g.const(f"{lp.name}_one", np.float32(1))], f"{top}_base")
    power = g.node("Pow", [base, g.const(f"{lp.name}_negbeta", np.float32(-c.beta))], f"{top}_pow")
    return g.node("Mul", [x, power], top)


def _layer(g, i, lp, layer, xs, tops):
    """Emit ONNX nodes for layer i; return the ONNX names of its tops."""
    net = g.net
    t = lp.type
    top = tops[0] if tops else lp.name
    rank = len(net.top_vecs[i][0].shape) if net.top_vecs[i] else 4
    if t in ("Convolution", "Deconvolution"):
        return [_conv(g, lp, layer, xs[0], top, transpose=t == "Deconvolution")]
    if t == "Pooling":
        return [_pool(g, lp, net.bottom_vecs[i][0].shape, net.top_vecs[i][0].shape, xs[0], top)]
    if t == "InnerProduct":
        c = lp.inner_product_param
        if c.axis != 1:
            raise ExportError("InnerProduct axis must be 1 for ONNX", field="axis", found=c.axis)
        flat = g.node("Flatten", [xs[0]], f"{top}_flat", axis=1)
        inputs = [flat, g.const(f"{lp.name}_W", layer.blobs[0].data.astype(np.float32))]
        if c.bias_term:
            inputs.append(g.const(f"{lp.name}_b", layer.blobs[1].data.astype(np.float32)))
        return [g.node("Gemm", inputs, top, transB=0 if c.transpose else 1)]
    if t == "ReLU":
        slope = lp.relu_param.negative_slope
        return [g.node("LeakyRelu", xs, top, alpha=float(slope)) if slope else g.node("Relu", xs, top)]
    if t == "PReLU":
        slope = layer.blobs[0].data
        return [g.node("PRelu", [xs[0], _per_channel(g, f"{lp.name}_slope", slope, rank)], top)]
    simple = {"Sigmoid": "Sigmoid", "TanH": "Tanh", "AbsVal": "Abs", "BNLL": "Softplus"}
    if t in simple:
        return [g.node(simple[t], xs, top)]
    if t == "ELU":
        return [g.node("Elu", xs, top, alpha=float(lp.elu_param.alpha))]
    if t == "Power":
        c = lp.power_param
        y = xs[0]
        if c.scale != 1:
            y = g.node("Mul", [y, g.const(f"{lp.name}_scale", np.float32(c.scale))], f"{top}_scaled")
        if c.shift != 0:
            y = g.node("Add", [y, g.const(f"{lp.name}_shift", np.float32(c.shift))], f"{top}_shifted")
        if c.power != 1:
            y = g.node("Pow", [y, g.const(f"{lp.name}_power", np.float32(c.power))], top)
        return [y if y != xs[0] else g.node("Identity", xs, top)]
    if t == "LRN":
        return [_lrn(g, lp, xs[0], top)]
    if t == "Dropout":      # inference: identity (Caffe scales at train time)
        return [g.node("Identity", xs, top)]
    if t == "Softmax":
        return [g.node("Softmax", xs, top, axis=int(lp.softmax_param.axis))]
    if t == "Concat":
        c = lp.concat_param
        axis = int(c.concat_dim) if c.HasField("concat_dim") else int(c.axis)
        return [g.node("Concat", xs, top, axis=axis)]
    if t == "Eltwise":
        c = lp.eltwise_param
        if c.operation == 0:
            return [g.node("Mul", xs, top) if len(xs) == 2 else _fold(g, "Mul", xs, top)]
        if c.operation == 2:
            return [g.node("Max", xs, top)]
        coeffs = list(c.coeff) or [1.0] * len(xs)
        terms = [x if k == 1 else g.node("Mul", [x, g.const(f"{lp.name}_coeff{j}", np.float32(k))], f"{top}_t{j}")
                 for j, (x, k) in enumerate(zip(xs, coeffs))]
        return [g.node("Sum", terms, top)]
    if t == "BatchNorm":
        factor = float(layer.blobs[2].data.ravel()[0])
        factor = 0.0 if factor == 0 else 1.0 / factor
        mean = layer.blobs[0].data.astype(np.float64) * factor
        var = layer.blobs[1].data.astype(np.float64) * factor
        ch = mean.shape[0]
        return [g.node("BatchNormalization", [xs[0], g.const(f"{lp.name}_gamma", np.ones(ch, np.float32)),
                                              g.const(f"{lp.name}_beta", np.zeros(ch, np.float32)),
                                              g.const(f"{lp.name}_mean", mean.astype(np.float32)),
                                              g.const(f"{lp.name}_var", var.astype(np.float32))],
                       top, epsilon=float(lp.batch_norm_param.eps))]
    if t in ("Scale", "Bias"):
        if len(xs) != 1:
            raise ExportError(f"{t} with a second bottom does not export to ONNX yet")
        c = lp.scale_param if t == "Scale" else lp.bias_param
        axis = int(c.axis) % rank
        y = xs[0]
        k = 0
        if t == "Scale":
            y = g.node("Mul", [y, _per_channel(g, f"{lp.name}_gamma", layer.blobs[0].data, rank, axis)],
                       top if not c.bias_term else f"{top}_scaled")
            k = 1
        if t == "Bias" or c.bias_term:
            y = g.node("Add", [y, _per_channel(g, f"{lp.name}_beta", layer.blobs[k].data, rank, axis)], top)
        return [y]
    if t == "Flatten":
        c = lp.flatten_param
        if c.end_axis not in (-1, rank - 1):
            raise ExportError("Flatten with end_axis before the last axis does not export", field="end_axis")
        return [g.node("Flatten", xs, top, axis=int(c.axis) % (rank + 1))]
    if t == "Reshape":
        shape = list(net.top_vecs[i][0].shape)
        shape[0] = 0            # keep the (symbolic) batch
        return [g.node("Reshape", [xs[0], g.const(f"{lp.name}_shape", np.array(shape, np.int64))], top)]
    if t == "Split":
        return [g.node("Identity", xs, name) for name in tops]
    raise ExportError(f"layer type '{t}' has no ONNX export", layer=lp.name, layer_type=t,
                      expected=", ".join(SUPPORTED), found=t)


def _fold(g, op, xs, top):
    y = xs[0]
    for j, x in enumerate(xs[1:], start=1):
        y = g.node(op, [y, x], top if j == len(xs) - 1 else f"{top}_p{j}")
    return y


def net_to_onnx(net, model_name=None, extra_outputs=(), dynamic_batch=True):
    """An onnx.ModelProto computing `net`'s outputs (and `extra_outputs` blobs) from its inputs."""
    import onnx
    from onnx import TensorProto, helper
    g = _Graph(net)
    for i, (name, layer) in enumerate(zip(net.layer_names, net.layers)):
        lp = layer.layer_param
        tops = list(net.top_ids[i])
        if lp.type == "Input":
            for tname, blob in zip(tops, net.top_vecs[i]):
                shape = list(blob.shape)
                dims = ["N"] + shape[1:] if dynamic_batch and shape else shape
                g.used.add(tname)
                g.current[tname] = tname
                g.inputs.append(helper.make_tensor_value_info(tname, TensorProto.FLOAT, dims))
            continue
        if lp.type not in SUPPORTED:
            raise ExportError(f"layer type '{lp.type}' has no ONNX export (export a deploy net)",
                              layer=name, layer_type=lp.type, expected=", ".join(SUPPORTED), found=lp.type)
        xs = [g.current[b] for b in net.bottom_ids[i]]
        # an in-place top gets a fresh ONNX name (ONNX values are written once)
        wanted = [t if t not in g.used else f"{t}/{name}" for t in tops]
        try:
            outs = _layer(g, i, lp, layer, xs, wanted)
        except ExportError as exc:
            raise exc.with_context(layer=name, layer_type=lp.type) from None
        for t, o in zip(tops, outs):
            g.current[t] = o
    outputs = []
    for blob in list(net.outputs) + [b for b in extra_outputs if b not in net.outputs]:
        if blob not in g.current:
            raise ExportError(f"no blob '{blob}' to export", blob=blob)
        shape = list(net.blobs[blob].shape)
        dims = ["N"] + shape[1:] if dynamic_batch and shape else shape
        outputs.append(helper.make_tensor_value_info(g.current[blob], TensorProto.FLOAT, dims))
    graph = helper.make_graph(g.nodes, model_name or net.name or "caffeine", g.inputs, outputs, g.initializers)
    model = helper.make_model(graph, producer_name="caffeine", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = min(model.ir_version, 8)   # onnxruntime builds of the last years all read IR 8
    for blob in net.outputs:
        entry = model.metadata_props.add()
        entry.key, entry.value = f"caffe_blob:{blob}", g.current[blob]
    onnx.checker.check_model(model)
    return model


def export_onnx(net, path, **kwargs):
    """Write `net` as an ONNX file; returns the ModelProto.  ``model.metadata_props`` maps each
    output blob ("caffe_blob:<blob>") to its ONNX tensor (renamed when an in-place layer wrote it)."""
    model = net_to_onnx(net, **kwargs)
    from caffeine.proto.io import atomic_write_bytes
    atomic_write_bytes(path, model.SerializeToString())
    return model
