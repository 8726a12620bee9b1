"""Net preprocessing done before layers are built, as Caffe's Net::FilterNet,
StateMeetsRule and insert_splits.cpp."""
from caffeine.errors import LayerConfigError


def state_meets_rule(state, rule):
    """Caffe's Net::StateMeetsRule: phase, min/max level, stage and not_stage."""
    if rule.HasField("phase") and rule.phase != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    stages = set(state.stage)
    if any(s not in stages for s in rule.stage):
        return False
    if any(s in stages for s in rule.not_stage):
        return False
    return True


def filter_net(net_param, state, source=None):
    """Keep the layers whose include/exclude rules match ``state`` (Caffe's FilterNet)."""
    from caffeine.proto import caffe_pb2
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    for layer in net_param.layer:
        if len(layer.include) and len(layer.exclude):
            raise LayerConfigError("specify either include rules or exclude rules, not both",
                                   file=source, layer=layer.name, layer_type=layer.type)
        if len(layer.include):
            keep = any(state_meets_rule(state, r) for r in layer.include)
        else:
            keep = not any(state_meets_rule(state, r) for r in layer.exclude)
        if keep:
            out.layer.add().CopyFrom(layer)
    return out


def split_layer_name(layer_name, blob_name, top_index):
    return f"{blob_name}_{layer_name}_{top_index}_split"


def split_blob_name(layer_name, blob_name, top_index, split_index):
    return f"{blob_name}_{layer_name}_{top_index}_split_{split_index}"


def insert_splits(net_param):
    """Insert a Split layer after every top consumed more than once (Caffe's InsertSplits).

    A top with a non-zero loss weight counts as one extra consumer; the split's first
    top then carries the loss weight.  Blob and layer names follow Caffe exactly.
    """
    from caffeine.proto import caffe_pb2
    last_producer = {}      # blob name -> (layer index, top index); -1 for net-level inputs
    consumers = {}          # (layer index, top index) -> number of consumers
    bottom_source = {}      # (layer index, bottom index) -> (layer index, top index)
    loss_weight = {}
    for name in net_param.input:
        last_producer[name] = (-1, len(last_producer))
    for i, layer in enumerate(net_param.layer):
        for j, bottom in enumerate(layer.bottom):
            if bottom not in last_producer:
                raise LayerConfigError(f"unknown bottom blob '{bottom}' (bottom index {j})",
                                       layer=layer.name, layer_type=layer.type, blob=bottom)
            src = last_producer[bottom]
            bottom_source[(i, j)] = src
            consumers[src] = consumers.get(src, 0) + 1
        for j, top in enumerate(layer.top):
            last_producer[top] = (i, j)
        for j, w in enumerate(layer.loss_weight):
            if w:
                loss_weight[(i, j)] = w
                consumers[(i, j)] = consumers.get((i, j), 0) + 1

    out = caffe_pb2.NetParameter()
    out.CopyFrom(net_param)
    del out.layer[:]
    next_split_index = {}
    for i, layer in enumerate(net_param.layer):
        new_layer = out.layer.add()
        new_layer.CopyFrom(layer)
        for j, bottom in enumerate(layer.bottom):
            src = bottom_source[(i, j)]
            if consumers.get(src, 0) > 1:
                src_layer = net_param.layer[src[0]].name
                k = next_split_index.get(src, 0)
                new_layer.bottom[j] = split_blob_name(src_layer, bottom, src[1], k)
                next_split_index[src] = k + 1
        for j, top in enumerate(layer.top):
            count = consumers.get((i, j), 0)
            if count > 1:
                w = loss_weight.get((i, j), 0.0)
                split = out.layer.add()
                split.name = split_layer_name(layer.name, top, j)
                split.type = "Split"
                split.bottom.append(top)
                for k in range(count):
                    split.top.append(split_blob_name(layer.name, top, j, k))
                    if w:
                        split.loss_weight.append(w if k == 0 else 0.0)
                if w:
                    del new_layer.loss_weight[:]
                    next_split_index[(i, j)] = 1
    return out
