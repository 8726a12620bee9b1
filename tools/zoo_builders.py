"""Building blocks for tools/gen_zoo_models.py: NetSpec helpers that write one layer (or a
small published group of layers) with Caffe's usual params and fillers.

Every helper assigns its tops to the NetSpec in the order the published prototxt lists
the layers, since NetSpec.to_proto() writes layers in that order.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from caffeine.net_spec import NetSpec, layers as L, params as P  # noqa: E402

TRAIN = dict(phase=0)
TEST = dict(phase=1)
W2 = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]   # weight, bias
W1 = [dict(lr_mult=1, decay_mult=1)]                                   # weight only
FROZEN3 = [dict(lr_mult=0, decay_mult=0)] * 3                          # BatchNorm statistics
MAX, AVE = P.Pooling.MAX, P.Pooling.AVE
IMAGENET_TRAIN = "examples/imagenet/ilsvrc12_train_lmdb"
IMAGENET_VAL = "examples/imagenet/ilsvrc12_val_lmdb"
BGR_MEAN = (104, 117, 123)


def gauss(std):
    return dict(type="gaussian", std=std)


def const(v=0.0):
    return dict(type="constant", value=v)


XAVIER = dict(type="xavier")
MSRA = dict(type="msra")


# ---- one layer -----------------------------------------------------------------------------------
def conv(n, name, bottom, nout, k, s=1, p=0, group=1, bias=True, wf=XAVIER, bf=None):
    kw = dict(num_output=nout, kernel_size=k, weight_filler=wf)
    if p:
        kw["pad"] = p
    if s != 1:
        kw["stride"] = s
    if group != 1:
        kw["group"] = group
    if bias:
        kw["bias_filler"] = bf or const(0)
    else:
        kw["bias_term"] = False
    n[name] = L.Convolution(bottom, param=W2 if bias else W1, **kw)
    return n[name]


def fc(n, name, bottom, nout, wf, bf=None, param=W2):
    n[name] = L.InnerProduct(bottom, param=param, num_output=nout, weight_filler=wf,
                             bias_filler=bf or const(0))
    return n[name]


def relu(n, name, top):
    n[name] = L.ReLU(top, in_place=True)
    return top


def pool(n, name, bottom, method, k=None, s=1, p=0, global_pool=False):
    kw = dict(pool=method)
    if global_pool:
        kw["global_pooling"] = True
    else:
        kw["kernel_size"] = k
        if s != 1:
            kw["stride"] = s
        if p:
            kw["pad"] = p
    n[name] = L.Pooling(bottom, **kw)
    return n[name]


def lrn(n, name, bottom, local_size=5, alpha=1e-4, beta=0.75, within=False):
    kw = dict(local_size=local_size, alpha=alpha, beta=beta)
    if within:
        kw["norm_region"] = P.LRN.WITHIN_CHANNEL
    n[name] = L.LRN(bottom, **kw)
    return n[name]


def dropout(n, name, top, ratio):
    n[name] = L.Dropout(top, dropout_ratio=ratio, in_place=True)


def input_layer(n, shape):
    n.data = L.Input(shape=dict(dim=list(shape)))
    return n.data


def data_layer(n, source, batch, crop=None, mean_file=None, mean_value=None, scale=None, mirror=True):
    """The TRAIN Data layer; `finish` adds its TEST twin (same tops, val source, no mirror)."""
    t = {}
    if mirror:
        t["mirror"] = True
    if crop:
        t["crop_size"] = crop
    if mean_file:
        t["mean_file"] = mean_file
    if mean_value:
        t["mean_value"] = list(mean_value)
    if scale:
        t["scale"] = scale
    kw = dict(transform_param=t) if t else {}
    n.data, n.label = L.Data(include=TRAIN, ntop=2, source=source, batch_size=batch,
                             backend=P.Data.LMDB, **kw)
    return n.data, n.label


# ---- published groups of layers -------------------------------------------------------------------
def conv_relu(n, name, relu_name, bottom, *args, **kw):
    """A Convolution followed by its in-place ReLU; returns the (shared) top."""
    return relu(n, relu_name, conv(n, name, bottom, *args, **kw))


def bn_scale(n, bn_name, scale_name, top, train):
    """Caffe's BatchNorm (statistics, frozen from the solver) + Scale (learned gamma/beta)."""
    kw = {} if train else dict(use_global_stats=True)
    n[bn_name] = L.BatchNorm(top, param=FROZEN3, in_place=True, **kw)
    n[scale_name] = L.Scale(top, bias_term=True, in_place=True)


def fc678(n, bottom, bias):
    """AlexNet's and VGG's classifier: fc6, fc7 (4096, ReLU, dropout 0.5) and fc8 (1000 classes)."""
    x = bottom
    for k in (6, 7):
        x = relu(n, f"relu{k}", fc(n, f"fc{k}", x, 4096, gauss(0.005), const(bias)))
        dropout(n, f"drop{k}", x, 0.5)
    return fc(n, "fc8", x, 1000, gauss(0.01), const(0))


def heads(n, logits, label, top5=True, prefix="", loss_name="loss", weight=None):
    acc = prefix + ("top-1" if top5 and prefix else "accuracy")
    n[acc] = L.Accuracy(logits, label, include=TEST)
    if top5:
        n[prefix + ("top-5" if prefix else "accuracy_top5")] = L.Accuracy(
            logits, label, include=TEST, top_k=5)
    kw = dict(loss_weight=weight) if weight is not None else {}
    n[loss_name] = L.SoftmaxWithLoss(logits, label, **kw)


# ---- whole nets ----------------------------------------------------------------------------------
def begin(train, deploy_shape, batch, source=IMAGENET_TRAIN, **transform):
    """(NetSpec, data, label): the TRAIN Data layer for train_val, an Input layer (label None) for deploy."""
    n = NetSpec()
    if train:
        return (n, *data_layer(n, source, batch, **transform))
    return n, input_layer(n, deploy_shape), None


def end(n, train, logits, label, name, test_batch=50, test_source=IMAGENET_VAL, deploy_name=None, **head_kw):
    """train_val: accuracy/loss heads and the TEST Data layer; deploy: a Softmax `prob`."""
    if train:
        heads(n, logits, label, **head_kw)
        return finish(n, name, test_source, test_batch)
    n.prob = L.Softmax(logits)
    return finish(n, deploy_name or name)


def finish(n, name, test_source=None, test_batch=None):
    """NetParameter named `name`; for train_val, a TEST twin of the first (Data) layer."""
    param = n.to_proto()
    param.name = name
    if test_source is not None:
        layers = list(param.layer)
        test = type(layers[0])()
        test.CopyFrom(layers[0])
        test.include[0].phase = 1
        test.data_param.source = test_source
        test.data_param.batch_size = test_batch
        test.transform_param.ClearField("mirror")
        if not test.transform_param.ListFields():
            test.ClearField("transform_param")
        copies = [type(l)() for l in layers]
        for c, l in zip(copies, layers):
            c.CopyFrom(l)
        del param.layer[:]
        param.layer.extend([copies[0], test] + copies[1:])
    return param
