#!/usr/bin/env python
"""Write models/<name>/{train_val,deploy}.prototxt for the model zoo with caffeine's NetSpec.

The architectures are the published ones (layer names kept, so the published
caffemodels copy into them by name):
  cifar10_quick, cifar10_full    Caffe's examples/cifar10
  bvlc_reference_caffenet        Caffe's models/bvlc_reference_caffenet (pool before LRN)
  bvlc_alexnet                   Krizhevsky et al. 2012 as in Caffe's models/bvlc_alexnet
  bvlc_googlenet                 Szegedy et al. 2014 as in Caffe's models/bvlc_googlenet
  vgg16                          Simonyan & Zisserman 2014, configuration D (VGG_ILSVRC_16_layers)
  resnet50                       He et al. 2015, KaimingHe/deep-residual-networks ResNet-50
  squeezenet_v1.1                Iandola et al., DeepScale/SqueezeNet v1.1
  mobilenet_v1                   Howard et al. 2017, 1.0/224 as in shicai/MobileNet-Caffe

Run from the repository root: `python tools/gen_zoo_models.py` (rewrites the files).
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from google.protobuf import text_format  # noqa: E402

from caffeine.net_spec import NetSpec, layers as L, params as P  # noqa: E402

TRAIN = dict(phase=0)
TEST = dict(phase=1)
W2 = [dict(lr_mult=1, decay_mult=1), dict(lr_mult=2, decay_mult=0)]   # weight, bias
W1 = [dict(lr_mult=1, decay_mult=1)]                                   # weight only
FROZEN3 = [dict(lr_mult=0, decay_mult=0)] * 3                          # BatchNorm statistics


def gauss(std):
    return dict(type="gaussian", std=std)


def const(v=0.0):
    return dict(type="constant", value=v)


XAVIER = dict(type="xavier")
MSRA = dict(type="msra")


# ---- building blocks --------------------------------------------------------------------------
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


def fc(n, name, bottom, nout, wf, bf=None):
    n[name] = L.InnerProduct(bottom, param=W2, num_output=nout, weight_filler=wf,
                             bias_filler=bf or const(0))
    return n[name]


def relu(n, name, top):
    n[name] = L.ReLU(top, in_place=True)


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


def bn_scale(n, bn_name, scale_name, top, train):
    """Caffe's BatchNorm (statistics, frozen from the solver) + Scale (learned gamma/beta)."""
    kw = {} if train else dict(use_global_stats=True)
    n[bn_name] = L.BatchNorm(top, param=FROZEN3, in_place=True, **kw)
    n[scale_name] = L.Scale(top, bias_term=True, in_place=True)


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


def heads(n, logits, label, top5=True, prefix="", loss_name="loss", weight=None):
    acc = prefix + ("top-1" if top5 and prefix else "accuracy")
    n[acc] = L.Accuracy(logits, label, include=TEST)
    if top5:
        n[prefix + ("top-5" if prefix else "accuracy_top5")] = L.Accuracy(
            logits, label, include=TEST, top_k=5)
    kw = dict(loss_weight=weight) if weight is not None else {}
    n[loss_name] = L.SoftmaxWithLoss(logits, label, **kw)


# ---- prototxt text -------------------------------------------------------------------------------
def to_text(net_param, header):
    """Caffe-style text: one `layer { ... }` per layer, sub-messages on one line."""
    lines = [f"# {h}" if h else "#" for h in header.strip().splitlines()]
    lines.append(f'name: "{net_param.name}"')
    for layer in net_param.layer:
        lines.append("layer {")
        for field, value in layer.ListFields():
            values = value if field.is_repeated else [value]
            for v in values:
                if field.message_type is not None:
                    body = text_format.MessageToString(v, as_one_line=True)
                    lines.append(f"  {field.name} {{ {body} }}" if body else f"  {field.name} {{ }}")
                else:
                    lines.append("  " + text_format.MessageToString(
                        _single(layer, field.name, v), as_one_line=True))
        lines.append("}")
    text = "\n".join(lines) + "\n"
    # protobuf prints floats as 1.0 / 0.0; Caffe's files write 1 / 0
    return re.sub(r"(?<=: )(-?\d+)\.0(?=[ \n])", r"\1", text)


def _single(layer, name, value):
    msg = type(layer)()
    field = getattr(msg, name)
    if hasattr(field, "append"):
        field.append(value)
    else:
        setattr(msg, name, value)
    return msg


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


def input_layer(n, shape):
    n.data = L.Input(shape=dict(dim=list(shape)))
    return n.data


# ---- the models ----------------------------------------------------------------------------------
def cifar10_quick(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/cifar10/cifar10_train_lmdb", 100, mirror=False,
                                 mean_file="examples/cifar10/mean.binaryproto")
    else:
        data = input_layer(n, (1, 3, 32, 32))
    conv(n, "conv1", data, 32, 5, p=2, wf=gauss(0.0001))
    pool(n, "pool1", n.conv1, P.Pooling.MAX, 3, 2)
    relu(n, "relu1", n.pool1)
    conv(n, "conv2", n.pool1, 32, 5, p=2, wf=gauss(0.01))
    relu(n, "relu2", n.conv2)
    pool(n, "pool2", n.conv2, P.Pooling.AVE, 3, 2)
    conv(n, "conv3", n.pool2, 64, 5, p=2, wf=gauss(0.01))
    relu(n, "relu3", n.conv3)
    pool(n, "pool3", n.conv3, P.Pooling.AVE, 3, 2)
    fc(n, "ip1", n.pool3, 64, gauss(0.1))
    fc(n, "ip2", n.ip1, 10, gauss(0.1))
    if train:
        heads(n, n.ip2, label, top5=False)
        return finish(n, "CIFAR10_quick", "examples/cifar10/cifar10_test_lmdb", 100)
    n.prob = L.Softmax(n.ip2)
    return finish(n, "CIFAR10_quick_test")


def cifar10_full(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/cifar10/cifar10_train_lmdb", 100, mirror=False,
                                 mean_file="examples/cifar10/mean.binaryproto")
    else:
        data = input_layer(n, (1, 3, 32, 32))
    conv(n, "conv1", data, 32, 5, p=2, wf=gauss(0.0001))
    pool(n, "pool1", n.conv1, P.Pooling.MAX, 3, 2)
    relu(n, "relu1", n.pool1)
    lrn(n, "norm1", n.pool1, local_size=3, alpha=5e-05, beta=0.75, within=True)
    conv(n, "conv2", n.norm1, 32, 5, p=2, wf=gauss(0.01))
    relu(n, "relu2", n.conv2)
    pool(n, "pool2", n.conv2, P.Pooling.AVE, 3, 2)
    lrn(n, "norm2", n.pool2, local_size=3, alpha=5e-05, beta=0.75, within=True)
    conv(n, "conv3", n.norm2, 64, 5, p=2, wf=gauss(0.01))
    relu(n, "relu3", n.conv3)
    pool(n, "pool3", n.conv3, P.Pooling.AVE, 3, 2)
    n.ip1 = L.InnerProduct(n.pool3, param=[dict(lr_mult=1, decay_mult=250), dict(lr_mult=2, decay_mult=0)],
                           num_output=10, weight_filler=gauss(0.01), bias_filler=const(0))
    if train:
        heads(n, n.ip1, label, top5=False)
        return finish(n, "CIFAR10_full", "examples/cifar10/cifar10_test_lmdb", 100)
    n.prob = L.Softmax(n.ip1)
    return finish(n, "CIFAR10_full_deploy")


def _alexnet_family(train, caffenet):
    """CaffeNet swaps AlexNet's LRN/pool order (pool before norm) and uses bias 0/1 instead of 0/0.1."""
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/imagenet/ilsvrc12_train_lmdb", 256, crop=227,
                                 mean_file="data/ilsvrc12/imagenet_mean.binaryproto")
    else:
        data = input_layer(n, (10, 3, 227, 227))
    b1 = 1.0 if caffenet else 0.1
    conv(n, "conv1", data, 96, 11, s=4, wf=gauss(0.01), bf=const(0))
    relu(n, "relu1", n.conv1)
    if caffenet:
        pool(n, "pool1", n.conv1, P.Pooling.MAX, 3, 2)
        lrn(n, "norm1", n.pool1)
        nxt = n.norm1
    else:
        lrn(n, "norm1", n.conv1)
        pool(n, "pool1", n.norm1, P.Pooling.MAX, 3, 2)
        nxt = n.pool1
    conv(n, "conv2", nxt, 256, 5, p=2, group=2, wf=gauss(0.01), bf=const(b1))
    relu(n, "relu2", n.conv2)
    if caffenet:
        pool(n, "pool2", n.conv2, P.Pooling.MAX, 3, 2)
        lrn(n, "norm2", n.pool2)
        nxt = n.norm2
    else:
        lrn(n, "norm2", n.conv2)
        pool(n, "pool2", n.norm2, P.Pooling.MAX, 3, 2)
        nxt = n.pool2
    conv(n, "conv3", nxt, 384, 3, p=1, wf=gauss(0.01), bf=const(0))
    relu(n, "relu3", n.conv3)
    conv(n, "conv4", n.conv3, 384, 3, p=1, group=2, wf=gauss(0.01), bf=const(b1))
    relu(n, "relu4", n.conv4)
    conv(n, "conv5", n.conv4, 256, 3, p=1, group=2, wf=gauss(0.01), bf=const(b1))
    relu(n, "relu5", n.conv5)
    pool(n, "pool5", n.conv5, P.Pooling.MAX, 3, 2)
    fc(n, "fc6", n.pool5, 4096, gauss(0.005), const(b1))
    relu(n, "relu6", n.fc6)
    dropout(n, "drop6", n.fc6, 0.5)
    fc(n, "fc7", n.fc6, 4096, gauss(0.005), const(b1))
    relu(n, "relu7", n.fc7)
    dropout(n, "drop7", n.fc7, 0.5)
    fc(n, "fc8", n.fc7, 1000, gauss(0.01), const(0))
    name = "CaffeNet" if caffenet else "AlexNet"
    if train:
        n.accuracy = L.Accuracy(n.fc8, label, include=TEST)
        n.loss = L.SoftmaxWithLoss(n.fc8, label)
        return finish(n, name, "examples/imagenet/ilsvrc12_val_lmdb", 50)
    n.prob = L.Softmax(n.fc8)
    return finish(n, name)


def bvlc_reference_caffenet(train):
    return _alexnet_family(train, caffenet=True)


def bvlc_alexnet(train):
    return _alexnet_family(train, caffenet=False)


def _inception(n, prefix, bottom, c1, c3r, c3, c5r, c5, cp):
    def branch(name, b, nout, k, p=0):
        conv(n, f"{prefix}/{name}", b, nout, k, p=p, bf=const(0.2))
        relu(n, f"{prefix}/relu_{name}", n[f"{prefix}/{name}"])
        return n[f"{prefix}/{name}"]
    b1 = branch("1x1", bottom, c1, 1)
    branch("3x3_reduce", bottom, c3r, 1)
    b3 = branch("3x3", n[f"{prefix}/3x3_reduce"], c3, 3, 1)
    branch("5x5_reduce", bottom, c5r, 1)
    b5 = branch("5x5", n[f"{prefix}/5x5_reduce"], c5, 5, 2)
    pool(n, f"{prefix}/pool", bottom, P.Pooling.MAX, 3, 1, 1)
    bp = branch("pool_proj", n[f"{prefix}/pool"], cp, 1)
    n[f"{prefix}/output"] = L.Concat(b1, b3, b5, bp)
    return n[f"{prefix}/output"]


def _googlenet_aux(n, k, bottom, label):
    p = f"loss{k}"
    pool(n, f"{p}/ave_pool", bottom, P.Pooling.AVE, 5, 3)
    conv(n, f"{p}/conv", n[f"{p}/ave_pool"], 128, 1, bf=const(0.2))
    relu(n, f"{p}/relu_conv", n[f"{p}/conv"])
    fc(n, f"{p}/fc", n[f"{p}/conv"], 1024, XAVIER, const(0.2))
    relu(n, f"{p}/relu_fc", n[f"{p}/fc"])
    dropout(n, f"{p}/drop_fc", n[f"{p}/fc"], 0.7)
    fc(n, f"{p}/classifier", n[f"{p}/fc"], 1000, XAVIER, const(0))
    heads(n, n[f"{p}/classifier"], label, prefix=f"{p}/", loss_name=f"{p}/loss", weight=0.3)


def bvlc_googlenet(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/imagenet/ilsvrc12_train_lmdb", 32, crop=224,
                                 mean_value=(104, 117, 123))
    else:
        data = input_layer(n, (10, 3, 224, 224))
    conv(n, "conv1/7x7_s2", data, 64, 7, s=2, p=3, bf=const(0.2))
    relu(n, "conv1/relu_7x7", n["conv1/7x7_s2"])
    pool(n, "pool1/3x3_s2", n["conv1/7x7_s2"], P.Pooling.MAX, 3, 2)
    lrn(n, "pool1/norm1", n["pool1/3x3_s2"])
    conv(n, "conv2/3x3_reduce", n["pool1/norm1"], 64, 1, bf=const(0.2))
    relu(n, "conv2/relu_3x3_reduce", n["conv2/3x3_reduce"])
    conv(n, "conv2/3x3", n["conv2/3x3_reduce"], 192, 3, p=1, bf=const(0.2))
    relu(n, "conv2/relu_3x3", n["conv2/3x3"])
    lrn(n, "conv2/norm2", n["conv2/3x3"])
    x = pool(n, "pool2/3x3_s2", n["conv2/norm2"], P.Pooling.MAX, 3, 2)
    x = _inception(n, "inception_3a", x, 64, 96, 128, 16, 32, 32)
    x = _inception(n, "inception_3b", x, 128, 128, 192, 32, 96, 64)
    x = pool(n, "pool3/3x3_s2", x, P.Pooling.MAX, 3, 2)
    x = _inception(n, "inception_4a", x, 192, 96, 208, 16, 48, 64)
    if train:
        _googlenet_aux(n, 1, x, label)
    x = _inception(n, "inception_4b", x, 160, 112, 224, 24, 64, 64)
    x = _inception(n, "inception_4c", x, 128, 128, 256, 24, 64, 64)
    x = _inception(n, "inception_4d", x, 112, 144, 288, 32, 64, 64)
    if train:
        _googlenet_aux(n, 2, x, label)
    x = _inception(n, "inception_4e", x, 256, 160, 320, 32, 128, 128)
    x = pool(n, "pool4/3x3_s2", x, P.Pooling.MAX, 3, 2)
    x = _inception(n, "inception_5a", x, 256, 160, 320, 32, 128, 128)
    x = _inception(n, "inception_5b", x, 384, 192, 384, 48, 128, 128)
    x = pool(n, "pool5/7x7_s1", x, P.Pooling.AVE, 7, 1)
    dropout(n, "pool5/drop_7x7_s1", x, 0.4)
    fc(n, "loss3/classifier", x, 1000, XAVIER, const(0))
    if train:
        heads(n, n["loss3/classifier"], label, prefix="loss3/", loss_name="loss3/loss3", weight=1)
        return finish(n, "GoogleNet", "examples/imagenet/ilsvrc12_val_lmdb", 50)
    n.prob = L.Softmax(n["loss3/classifier"])
    return finish(n, "GoogleNet")


def vgg16(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/imagenet/ilsvrc12_train_lmdb", 64, crop=224,
                                 mean_value=(103.939, 116.779, 123.68))
    else:
        data = input_layer(n, (10, 3, 224, 224))
    x = data
    for stage, (reps, width) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], start=1):
        for i in range(1, reps + 1):
            name = f"conv{stage}_{i}"
            x = conv(n, name, x, width, 3, p=1, wf=gauss(0.01), bf=const(0))
            relu(n, f"relu{stage}_{i}", x)
        x = pool(n, f"pool{stage}", x, P.Pooling.MAX, 2, 2)
    fc(n, "fc6", x, 4096, gauss(0.005), const(0.1))
    relu(n, "relu6", n.fc6)
    dropout(n, "drop6", n.fc6, 0.5)
    fc(n, "fc7", n.fc6, 4096, gauss(0.005), const(0.1))
    relu(n, "relu7", n.fc7)
    dropout(n, "drop7", n.fc7, 0.5)
    fc(n, "fc8", n.fc7, 1000, gauss(0.01), const(0))
    if train:
        heads(n, n.fc8, label)
        return finish(n, "VGG_ILSVRC_16_layers", "examples/imagenet/ilsvrc12_val_lmdb", 50)
    n.prob = L.Softmax(n.fc8)
    return finish(n, "VGG_ILSVRC_16_layers")


def resnet50(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/imagenet/ilsvrc12_train_lmdb", 32, crop=224,
                                 mean_value=(104, 117, 123))
    else:
        data = input_layer(n, (1, 3, 224, 224))
    # conv1 keeps its bias as in KaimingHe's ResNet-50-deploy.prototxt (the residual convs have none)
    conv(n, "conv1", data, 64, 7, s=2, p=3, wf=MSRA)
    bn_scale(n, "bn_conv1", "scale_conv1", n.conv1, train)
    relu(n, "conv1_relu", n.conv1)
    x = pool(n, "pool1", n.conv1, P.Pooling.MAX, 3, 2)

    def unit(name, bottom, nout, k, s=1, p=0):
        top = conv(n, f"res{name}", bottom, nout, k, s=s, p=p, bias=False, wf=MSRA)
        bn_scale(n, f"bn{name}", f"scale{name}", top, train)
        return top

    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], start=2):
        for b in range(blocks):
            block = f"{stage}{'abcdef'[b]}"
            stride = 2 if (b == 0 and stage > 2) else 1
            shortcut = unit(f"{block}_branch1", x, 4 * width, 1, s=stride) if b == 0 else x
            y = unit(f"{block}_branch2a", x, width, 1, s=stride)
            relu(n, f"res{block}_branch2a_relu", y)
            y = unit(f"{block}_branch2b", y, width, 3, p=1)
            relu(n, f"res{block}_branch2b_relu", y)
            y = unit(f"{block}_branch2c", y, 4 * width, 1)
            n[f"res{block}"] = L.Eltwise(shortcut, y)
            x = n[f"res{block}"]
            relu(n, f"res{block}_relu", x)
    pool(n, "pool5", x, P.Pooling.AVE, 7, 1)
    fc(n, "fc1000", n.pool5, 1000, MSRA, const(0))
    if train:
        heads(n, n.fc1000, label)
        return finish(n, "ResNet-50", "examples/imagenet/ilsvrc12_val_lmdb", 50)
    n.prob = L.Softmax(n.fc1000)
    return finish(n, "ResNet-50")


def squeezenet_v1_1(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/imagenet/ilsvrc12_train_lmdb", 32, crop=227,
                                 mean_value=(104, 117, 123))
    else:
        data = input_layer(n, (10, 3, 227, 227))
    conv(n, "conv1", data, 64, 3, s=2)
    relu(n, "relu_conv1", n.conv1)
    x = pool(n, "pool1", n.conv1, P.Pooling.MAX, 3, 2)

    def fire(k, bottom, s, e):
        p = f"fire{k}"
        conv(n, f"{p}/squeeze1x1", bottom, s, 1)
        relu(n, f"{p}/relu_squeeze1x1", n[f"{p}/squeeze1x1"])
        conv(n, f"{p}/expand1x1", n[f"{p}/squeeze1x1"], e, 1)
        relu(n, f"{p}/relu_expand1x1", n[f"{p}/expand1x1"])
        conv(n, f"{p}/expand3x3", n[f"{p}/squeeze1x1"], e, 3, p=1)
        relu(n, f"{p}/relu_expand3x3", n[f"{p}/expand3x3"])
        n[f"{p}/concat"] = L.Concat(n[f"{p}/expand1x1"], n[f"{p}/expand3x3"])
        return n[f"{p}/concat"]

    x = fire(2, x, 16, 64)
    x = fire(3, x, 16, 64)
    x = pool(n, "pool3", x, P.Pooling.MAX, 3, 2)
    x = fire(4, x, 32, 128)
    x = fire(5, x, 32, 128)
    x = pool(n, "pool5", x, P.Pooling.MAX, 3, 2)
    x = fire(6, x, 48, 192)
    x = fire(7, x, 48, 192)
    x = fire(8, x, 64, 256)
    x = fire(9, x, 64, 256)
    dropout(n, "drop9", x, 0.5)
    conv(n, "conv10", x, 1000, 1, wf=dict(type="gaussian", mean=0.0, std=0.01))
    relu(n, "relu_conv10", n.conv10)
    pool(n, "pool10", n.conv10, P.Pooling.AVE, global_pool=True)
    if train:
        heads(n, n.pool10, label)
        return finish(n, "SqueezeNet_v1.1", "examples/imagenet/ilsvrc12_val_lmdb", 25)
    n.prob = L.Softmax(n.pool10)
    return finish(n, "SqueezeNet_v1.1")


def mobilenet_v1(train):
    n = NetSpec()
    if train:
        data, label = data_layer(n, "examples/imagenet/ilsvrc12_train_lmdb", 64, crop=224,
                                 mean_value=(103.94, 116.78, 123.68), scale=0.017)
    else:
        data = input_layer(n, (1, 3, 224, 224))

    def unit(name, bottom, nout, k, s=1, p=0, group=1, relu_name=None):
        top = conv(n, name, bottom, nout, k, s=s, p=p, group=group, bias=False, wf=MSRA)
        # BatchNorm writes a new top `<name>/bn`; Scale and ReLU then work in place on it
        kw = {} if train else dict(use_global_stats=True)
        n[f"{name}/bn"] = L.BatchNorm(top, param=FROZEN3, **kw)
        n[f"{name}/scale"] = L.Scale(n[f"{name}/bn"], bias_term=True, in_place=True)
        n[relu_name] = L.ReLU(n[f"{name}/bn"], in_place=True)
        return n[f"{name}/bn"]

    x = unit("conv1", data, 32, 3, s=2, p=1, relu_name="relu1")
    plan = [("2_1", 32, 64, 1), ("2_2", 64, 128, 2), ("3_1", 128, 128, 1), ("3_2", 128, 256, 2),
            ("4_1", 256, 256, 1), ("4_2", 256, 512, 2), ("5_1", 512, 512, 1), ("5_2", 512, 512, 1),
            ("5_3", 512, 512, 1), ("5_4", 512, 512, 1), ("5_5", 512, 512, 1), ("5_6", 512, 1024, 2),
            ("6", 1024, 1024, 1)]
    for tag, cin, cout, stride in plan:
        x = unit(f"conv{tag}/dw", x, cin, 3, s=stride, p=1, group=cin, relu_name=f"relu{tag}/dw")
        x = unit(f"conv{tag}/sep", x, cout, 1, relu_name=f"relu{tag}/sep")
    pool(n, "pool6", x, P.Pooling.AVE, global_pool=True)
    conv(n, "fc7", n.pool6, 1000, 1, wf=MSRA)
    if train:
        heads(n, n.fc7, label)
        return finish(n, "MOBILENET", "examples/imagenet/ilsvrc12_val_lmdb", 50)
    n.prob = L.Softmax(n.fc7)
    return finish(n, "MOBILENET")


MODELS = {
    "cifar10_quick": (cifar10_quick, "Caffe's examples/cifar10/cifar10_quick (Alex Krizhevsky's cuda-convnet 'quick' CIFAR-10 net)"),
    "cifar10_full": (cifar10_full, "Caffe's examples/cifar10/cifar10_full (cuda-convnet layers-18pct with within-channel LRN)"),
    "bvlc_reference_caffenet": (bvlc_reference_caffenet, "BVLC Reference CaffeNet: AlexNet with pooling before normalization"),
    "bvlc_alexnet": (bvlc_alexnet, "BVLC AlexNet (Krizhevsky, Sutskever, Hinton 2012), two-group convolutions"),
    "bvlc_googlenet": (bvlc_googlenet, "BVLC GoogLeNet (Szegedy et al. 2014, 'Going Deeper with Convolutions')"),
    "vgg16": (vgg16, "VGG ILSVRC-2014 16 layers, configuration D (Simonyan & Zisserman 2014)"),
    "resnet50": (resnet50, "ResNet-50 (He et al. 2015), as KaimingHe/deep-residual-networks' Caffe model"),
    "squeezenet_v1.1": (squeezenet_v1_1, "SqueezeNet v1.1 (Iandola et al. 2016), as DeepScale/SqueezeNet"),
    "mobilenet_v1": (mobilenet_v1, "MobileNet v1 1.0-224 (Howard et al. 2017), as shicai/MobileNet-Caffe"),
}


def main(root="models"):
    for name, (build, title) in MODELS.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for train, fname, what in [(True, "train_val.prototxt", "training/validation net"),
                                   (False, "deploy.prototxt", "inference net (random weights until a caffemodel is loaded)")]:
            header = f"{title}: {what}.\nGenerated by tools/gen_zoo_models.py from the published architecture."
            with open(os.path.join(folder, fname), "w") as f:
                f.write(to_text(build(train), header))
        print("wrote", folder)


if __name__ == "__main__":
    main(*sys.argv[1:])
