"""Draw a net: `caffeine draw_net NET OUT.png|svg|pdf|dot [--rankdir LR|TB|BT|RL] [--phase TRAIN|TEST|ALL]`.

Caffe's python/draw_net.py, drawn with the `graphviz` package: layers are boxes (colour by
kind, with their main parameters), blobs are octagons, edges follow bottoms and tops.
An in-place layer (ReLU on conv1) writes a new node for the blob it rewrites, so the
drawing stays a chain instead of Caffe's self-loop.  ``--phase`` keeps the layers a
TRAIN or TEST net would have (Caffe's include/exclude rules); ALL draws every layer.

Rendering PNG/SVG/PDF needs Graphviz's `dot` program; `.dot`/`.gv` writes the graph
source and needs nothing else.
"""
import os
import shutil
import sys

from caffeine.errors import UsageError

LAYER_COLOURS = {
    "Convolution": "#FF5050", "Deconvolution": "#FF5050", "Pooling": "#FF9900",
    "InnerProduct": "#CC33FF", "BatchNorm": "#99CC99", "Scale": "#99CC99", "LRN": "#66CCCC",
    "Concat": "#FFCC66", "Eltwise": "#FFCC66", "Data": "#A0A0FF", "Input": "#A0A0FF",
}
DEFAULT_COLOUR = "#6495ED"
BLOB_COLOUR = "#E0E0E0"
RENDER_FORMATS = ("png", "svg", "pdf")
SOURCE_FORMATS = ("dot", "gv")


def add_arguments(parser):
    parser.add_argument("input_net_proto_file", help="net definition .prototxt")
    parser.add_argument("output_image_file", help="OUT.png, OUT.svg, OUT.pdf or OUT.dot")
    parser.add_argument("--rankdir", default="LR", help="graph direction: LR, TB, BT or RL (default LR)")
    parser.add_argument("--phase", default="ALL", help="TRAIN, TEST or ALL (default ALL)")


def _pair(values, default):
    values = list(values)
    return values[0] if values else default


def layer_label(lp):
    """Name, type and the parameters that matter for reading the architecture."""
    lines = [lp.name, f"({lp.type})"]
    t = lp.type
    if t in ("Convolution", "Deconvolution"):
        c = lp.convolution_param
        kh = c.kernel_h or _pair(c.kernel_size, 1)
        kw = c.kernel_w or _pair(c.kernel_size, 1)
        sh = c.stride_h or _pair(c.stride, 1)
        ph = c.pad_h or _pair(c.pad, 0)
        text = f"{kh}x{kw} /{sh} pad {ph} -> {c.num_output}"
        if c.group > 1:
            text += f" (group {c.group})"
        lines.append(text)
    elif t == "Pooling":
        c = lp.pooling_param
        method = ("MAX", "AVE", "STOCHASTIC")[c.pool]
        if c.global_pooling:
            lines.append(f"{method} global")
        else:
            k = c.kernel_h or c.kernel_size
            s = c.stride_h or c.stride
            lines.append(f"{method} {k}x{c.kernel_w or k} /{s}" + (f" pad {c.pad}" if c.pad else ""))
    elif t == "InnerProduct":
        lines.append(f"-> {lp.inner_product_param.num_output}")
    elif t == "LRN":
        c = lp.lrn_param
        lines.append(f"size {c.local_size}" + (" within" if c.norm_region == 1 else ""))
    elif t == "Dropout":
        lines.append(f"ratio {lp.dropout_param.dropout_ratio:g}")
    elif t == "Data":
        lines.append(f"batch {lp.data_param.batch_size}")
    elif t == "Input" and len(lp.input_param.shape):
        lines.append("x".join(str(d) for d in lp.input_param.shape[0].dim))
    for rule in lp.include:
        if rule.HasField("phase"):
            lines.append("TRAIN only" if rule.phase == 0 else "TEST only")
    return "\n".join(lines)


def select_layers(net_param, phase):
    """Layers that a net of `phase` would hold ('ALL': every layer)."""
    if phase == "ALL":
        return list(net_param.layer)
    from caffeine.net_filter import filter_net
    from caffeine.proto import caffe_pb2
    state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN if phase == "TRAIN" else caffe_pb2.TEST)
    return list(filter_net(net_param, state).layer)


def build_graph(net_param, rankdir="LR", phase="ALL"):
    """A graphviz.Digraph of the net."""
    import graphviz
    graph = graphviz.Digraph(name=net_param.name or "net", graph_attr=dict(
        rankdir=rankdir, label=net_param.name or "", labelloc="t", fontsize="16"),
        node_attr=dict(fontname="Helvetica", fontsize="10"), edge_attr=dict(arrowsize="0.7"))
    version = {}   # blob name -> current node id (a new id after each in-place rewrite)
    writes = {}    # blob name -> how many nodes it has had

    def blob_node(name, new=False):
        if new or name not in version:
            writes[name] = writes.get(name, 0) + 1
            version[name] = f"blob{len(version) + sum(writes.values())}"
            graph.node(version[name], label=name, shape="octagon", style="filled", fillcolor=BLOB_COLOUR)
        return version[name]

    for i, lp in enumerate(select_layers(net_param, phase)):
        node = f"layer{i}"
        graph.node(node, label=layer_label(lp), shape="box", style="filled",
                   fillcolor=LAYER_COLOURS.get(lp.type, DEFAULT_COLOUR))
        for bottom in lp.bottom:
            graph.edge(blob_node(bottom), node)
        for top in lp.top:
            # an in-place rewrite gets a new node; same-named tops of TRAIN/TEST twins share one
            graph.edge(node, blob_node(top, new=top in lp.bottom))
    return graph


def draw_net_to_file(net_param, path, rankdir="LR", phase="ALL"):
    """Write the drawing; returns the path written.  Raises RuntimeError without `dot`."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    graph = build_graph(net_param, rankdir, phase)
    if ext in SOURCE_FORMATS:
        with open(path, "w") as f:
            f.write(graph.source)
        return path
    if shutil.which("dot") is None:
        raise RuntimeError(
            "rendering needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; conda: "
            "conda install graphviz), or write the graph source instead: OUT.dot")
    import graphviz
    try:
        data = graph.pipe(format=ext)
    except graphviz.ExecutableNotFound as exc:
        raise RuntimeError(f"Graphviz's `dot` could not be run: {exc}") from None
    except graphviz.CalledProcessError as exc:
        raise RuntimeError(f"Graphviz's `dot` failed: {exc.stderr.decode(errors='replace').strip()}") from None
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def run(args):
    from caffeine.proto import io as proto_io
    rankdir = args.rankdir.upper()
    if rankdir not in ("LR", "TB", "BT", "RL"):
        raise UsageError("bad --rankdir", field="--rankdir", expected="LR, TB, BT or RL", found=args.rankdir)
    phase = args.phase.upper()
    if phase not in ("TRAIN", "TEST", "ALL"):
        raise UsageError("bad --phase", field="--phase", expected="TRAIN, TEST or ALL", found=args.phase)
    ext = os.path.splitext(args.output_image_file)[1].lower().lstrip(".")
    if ext not in RENDER_FORMATS + SOURCE_FORMATS:
        raise UsageError("unsupported output format", field="output_image_file",
                         expected="." + ", .".join(RENDER_FORMATS + SOURCE_FORMATS), found=args.output_image_file)
    net_param = proto_io.read_net_param(args.input_net_proto_file)
    print(f"Drawing net to {args.output_image_file}")
    try:
        draw_net_to_file(net_param, args.output_image_file, rankdir, phase)
    except RuntimeError as exc:
        print(f"caffeine draw_net: {exc}", file=sys.stderr)
        return 1
    return 0
