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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from google.protobuf import text_format  # noqa: E402

from zoo_builders import (  # noqa: E402
    AVE, BGR_MEAN, FROZEN3, MAX, MSRA, W2, XAVIER, L, begin, bn_scale, const, conv, conv_relu,
    dropout, end, fc, fc678, gauss, heads, lrn, pool, relu)


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


# ---- the models ----------------------------------------------------------------------------------
def _cifar10(train, full):
    """cifar10_full adds within-channel LRN after pool1/pool2 and has one InnerProduct, not two."""
    n, data, label = begin(train, (1, 3, 32, 32), 100, source="examples/cifar10/cifar10_train_lmdb",
                           mirror=False, mean_file="examples/cifar10/mean.binaryproto")
    x = relu(n, "relu1", pool(n, "pool1", conv(n, "conv1", data, 32, 5, p=2, wf=gauss(0.0001)), MAX, 3, 2))
    for k, width in ((2, 32), (3, 64)):
        if full:
            x = lrn(n, f"norm{k - 1}", x, local_size=3, alpha=5e-05, beta=0.75, within=True)
        x = conv_relu(n, f"conv{k}", f"relu{k}", x, width, 5, p=2, wf=gauss(0.01))
        x = pool(n, f"pool{k}", x, AVE, 3, 2)
    if full:
        logits = fc(n, "ip1", x, 10, gauss(0.01), param=[dict(lr_mult=1, decay_mult=250), W2[1]])
    else:
        logits = fc(n, "ip2", fc(n, "ip1", x, 64, gauss(0.1)), 10, gauss(0.1))
    name = "CIFAR10_full" if full else "CIFAR10_quick"
    return end(n, train, logits, label, name, 100, "examples/cifar10/cifar10_test_lmdb",
               deploy_name=name + ("_deploy" if full else "_test"), top5=False)


def cifar10_quick(train):
    return _cifar10(train, full=False)


def cifar10_full(train):
    return _cifar10(train, full=True)


def _alexnet_family(train, caffenet):
    """CaffeNet swaps AlexNet's LRN/pool order (pool before norm) and uses bias 0/1 instead of 0/0.1."""
    n, data, label = begin(train, (10, 3, 227, 227), 256, crop=227,
                           mean_file="data/ilsvrc12/imagenet_mean.binaryproto")
    b1 = 1.0 if caffenet else 0.1
    x = data
    for k, nout, ksize, s, p, group, bias in ((1, 96, 11, 4, 0, 1, 0), (2, 256, 5, 1, 2, 2, b1)):
        x = conv_relu(n, f"conv{k}", f"relu{k}", x, nout, ksize, s=s, p=p, group=group,
                      wf=gauss(0.01), bf=const(bias))
        if caffenet:
            x = lrn(n, f"norm{k}", pool(n, f"pool{k}", x, MAX, 3, 2))
        else:
            x = pool(n, f"pool{k}", lrn(n, f"norm{k}", x), MAX, 3, 2)
    for k, group, nout, bias in ((3, 1, 384, 0), (4, 2, 384, b1), (5, 2, 256, b1)):
        x = conv_relu(n, f"conv{k}", f"relu{k}", x, nout, 3, p=1, group=group, wf=gauss(0.01), bf=const(bias))
    x = pool(n, "pool5", x, MAX, 3, 2)
    return end(n, train, fc678(n, x, b1), label, "CaffeNet" if caffenet else "AlexNet", top5=False)


def bvlc_reference_caffenet(train):
    return _alexnet_family(train, caffenet=True)


def bvlc_alexnet(train):
    return _alexnet_family(train, caffenet=False)


def _inception(n, prefix, bottom, c1, c3r, c3, c5r, c5, cp):
    def branch(name, b, nout, k, p=0):
        return conv_relu(n, f"{prefix}/{name}", f"{prefix}/relu_{name}", b, nout, k, p=p, bf=const(0.2))
    b1 = branch("1x1", bottom, c1, 1)
    b3 = branch("3x3", branch("3x3_reduce", bottom, c3r, 1), c3, 3, 1)
    b5 = branch("5x5", branch("5x5_reduce", bottom, c5r, 1), c5, 5, 2)
    bp = branch("pool_proj", pool(n, f"{prefix}/pool", bottom, MAX, 3, 1, 1), cp, 1)
    n[f"{prefix}/output"] = L.Concat(b1, b3, b5, bp)
    return n[f"{prefix}/output"]


def _googlenet_aux(n, k, bottom, label):
    p = f"loss{k}"
    x = pool(n, f"{p}/ave_pool", bottom, AVE, 5, 3)
    x = conv_relu(n, f"{p}/conv", f"{p}/relu_conv", x, 128, 1, bf=const(0.2))
    x = relu(n, f"{p}/relu_fc", fc(n, f"{p}/fc", x, 1024, XAVIER, const(0.2)))
    dropout(n, f"{p}/drop_fc", x, 0.7)
    fc(n, f"{p}/classifier", x, 1000, XAVIER, const(0))
    heads(n, n[f"{p}/classifier"], label, prefix=f"{p}/", loss_name=f"{p}/loss", weight=0.3)


# inception module -> widths of its 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5 and pool_proj convolutions
GOOGLENET_INCEPTIONS = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64), "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}
GOOGLENET_AUX = {"4a": 1, "4d": 2}          # auxiliary classifiers (train_val only) after these modules


def bvlc_googlenet(train):
    n, data, label = begin(train, (10, 3, 224, 224), 32, crop=224, mean_value=BGR_MEAN)
    x = conv_relu(n, "conv1/7x7_s2", "conv1/relu_7x7", data, 64, 7, s=2, p=3, bf=const(0.2))
    x = lrn(n, "pool1/norm1", pool(n, "pool1/3x3_s2", x, MAX, 3, 2))
    x = conv_relu(n, "conv2/3x3_reduce", "conv2/relu_3x3_reduce", x, 64, 1, bf=const(0.2))
    x = conv_relu(n, "conv2/3x3", "conv2/relu_3x3", x, 192, 3, p=1, bf=const(0.2))
    x = pool(n, "pool2/3x3_s2", lrn(n, "conv2/norm2", x), MAX, 3, 2)
    for key, widths in GOOGLENET_INCEPTIONS.items():
        x = _inception(n, f"inception_{key}", x, *widths)
        if train and key in GOOGLENET_AUX:
            _googlenet_aux(n, GOOGLENET_AUX[key], x, label)
        if key in ("3b", "4e"):
            x = pool(n, f"pool{key[0]}/3x3_s2", x, MAX, 3, 2)
    x = pool(n, "pool5/7x7_s1", x, AVE, 7, 1)
    dropout(n, "pool5/drop_7x7_s1", x, 0.4)
    return end(n, train, fc(n, "loss3/classifier", x, 1000, XAVIER, const(0)), label, "GoogleNet",
               prefix="loss3/", loss_name="loss3/loss3", weight=1)


def vgg16(train):
    n, data, label = begin(train, (10, 3, 224, 224), 64, crop=224, mean_value=(103.939, 116.779, 123.68))
    x = data
    for stage, (reps, width) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], start=1):
        for i in range(1, reps + 1):
            x = conv_relu(n, f"conv{stage}_{i}", f"relu{stage}_{i}", x, width, 3, p=1,
                          wf=gauss(0.01), bf=const(0))
        x = pool(n, f"pool{stage}", x, MAX, 2, 2)
    return end(n, train, fc678(n, x, 0.1), label, "VGG_ILSVRC_16_layers")


def resnet50(train):
    n, data, label = begin(train, (1, 3, 224, 224), 32, crop=224, mean_value=BGR_MEAN)
    # conv1 keeps its bias as in KaimingHe's ResNet-50-deploy.prototxt (the residual convs have none)
    conv(n, "conv1", data, 64, 7, s=2, p=3, wf=MSRA)
    bn_scale(n, "bn_conv1", "scale_conv1", n.conv1, train)
    x = pool(n, "pool1", relu(n, "conv1_relu", n.conv1), MAX, 3, 2)

    def unit(name, bottom, nout, k, s=1, p=0):
        top = conv(n, f"res{name}", bottom, nout, k, s=s, p=p, bias=False, wf=MSRA)
        bn_scale(n, f"bn{name}", f"scale{name}", top, train)
        return top

    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], start=2):
        for b in range(blocks):
            block = f"{stage}{'abcdef'[b]}"
            stride = 2 if (b == 0 and stage > 2) else 1
            shortcut = unit(f"{block}_branch1", x, 4 * width, 1, s=stride) if b == 0 else x
            y = relu(n, f"res{block}_branch2a_relu", unit(f"{block}_branch2a", x, width, 1, s=stride))
            y = relu(n, f"res{block}_branch2b_relu", unit(f"{block}_branch2b", y, width, 3, p=1))
            y = unit(f"{block}_branch2c", y, 4 * width, 1)
            n[f"res{block}"] = L.Eltwise(shortcut, y)
            x = relu(n, f"res{block}_relu", n[f"res{block}"])
    x = pool(n, "pool5", x, AVE, 7, 1)
    return end(n, train, fc(n, "fc1000", x, 1000, MSRA, const(0)), label, "ResNet-50")


def squeezenet_v1_1(train):
    n, data, label = begin(train, (10, 3, 227, 227), 32, crop=227, mean_value=BGR_MEAN)
    x = pool(n, "pool1", conv_relu(n, "conv1", "relu_conv1", data, 64, 3, s=2), MAX, 3, 2)

    def fire(p, bottom, s, e):
        squeeze = conv_relu(n, f"{p}/squeeze1x1", f"{p}/relu_squeeze1x1", bottom, s, 1)
        e1 = conv_relu(n, f"{p}/expand1x1", f"{p}/relu_expand1x1", squeeze, e, 1)
        e3 = conv_relu(n, f"{p}/expand3x3", f"{p}/relu_expand3x3", squeeze, e, 3, p=1)
        n[f"{p}/concat"] = L.Concat(e1, e3)
        return n[f"{p}/concat"]

    # fire module -> (squeeze, expand) widths; pool3 and pool5 follow fire3 and fire5
    for k, (s, e) in enumerate([(16, 64), (16, 64), (32, 128), (32, 128),
                                (48, 192), (48, 192), (64, 256), (64, 256)], start=2):
        x = fire(f"fire{k}", x, s, e)
        if k in (3, 5):
            x = pool(n, f"pool{k}", x, MAX, 3, 2)
    dropout(n, "drop9", x, 0.5)
    x = conv_relu(n, "conv10", "relu_conv10", x, 1000, 1, wf=dict(type="gaussian", mean=0.0, std=0.01))
    return end(n, train, pool(n, "pool10", x, AVE, global_pool=True), label, "SqueezeNet_v1.1", 25)


def mobilenet_v1(train):
    n, data, label = begin(train, (1, 3, 224, 224), 64, crop=224, mean_value=(103.94, 116.78, 123.68),
                           scale=0.017)

    def unit(name, bottom, nout, k, s=1, p=0, group=1, relu_name=None):
        top = conv(n, name, bottom, nout, k, s=s, p=p, group=group, bias=False, wf=MSRA)
        # BatchNorm writes a new top `<name>/bn`; Scale and ReLU then work in place on it
        kw = {} if train else dict(use_global_stats=True)
        n[f"{name}/bn"] = L.BatchNorm(top, param=FROZEN3, **kw)
        n[f"{name}/scale"] = L.Scale(n[f"{name}/bn"], bias_term=True, in_place=True)
        return relu(n, relu_name, n[f"{name}/bn"])

    x = unit("conv1", data, 32, 3, s=2, p=1, relu_name="relu1")
    plan = [("2_1", 32, 64, 1), ("2_2", 64, 128, 2), ("3_1", 128, 128, 1), ("3_2", 128, 256, 2),
            ("4_1", 256, 256, 1), ("4_2", 256, 512, 2), ("5_1", 512, 512, 1), ("5_2", 512, 512, 1),
            ("5_3", 512, 512, 1), ("5_4", 512, 512, 1), ("5_5", 512, 512, 1), ("5_6", 512, 1024, 2),
            ("6", 1024, 1024, 1)]
    for tag, cin, cout, stride in plan:
        x = unit(f"conv{tag}/dw", x, cin, 3, s=stride, p=1, group=cin, relu_name=f"relu{tag}/dw")
        x = unit(f"conv{tag}/sep", x, cout, 1, relu_name=f"relu{tag}/sep")
    x = pool(n, "pool6", x, AVE, global_pool=True)
    return end(n, train, conv(n, "fc7", x, 1000, 1, wf=MSRA), label, "MOBILENET")


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
