"""Shape and parameter table of a net: `caffeine summary NET [--phase TEST] [--weights W]`.

One row per layer: name, type, top shapes, parameter blob shapes and their value count;
then the totals.  Two totals, because Caffe stores more than it learns: BatchNorm's blobs
are running statistics (mean, variance, a scale factor), saved in the caffemodel but not
trained by the solver.  ``learnable`` leaves them out (the number papers publish);
``stored`` is everything a .caffemodel of this net holds.  Parameters shared by name
(``param { name: "w" }``) are counted once.
"""
from caffeine.cli.common import stages
from caffeine.errors import UsageError

STATISTICS_LAYERS = ("BatchNorm",)


def add_arguments(parser):
    parser.add_argument("net", help="net definition .prototxt")
    parser.add_argument("--phase", default="TEST", help="TRAIN or TEST (default TEST)")
    parser.add_argument("--weights", default="", help="optional .caffemodel to load (checks it fits)")
    parser.add_argument("--level", type=int, default=0, help="net state level")
    parser.add_argument("--stage", default="", help="comma-separated net state stages")


def _shape(shape):
    return "x".join(str(d) for d in shape) if shape else "scalar"


def param_counts(net):
    """(learnable, stored): value counts of the net's parameter blobs, shared ones once."""
    learnable = stored = 0
    owners = getattr(net, "_param_owner", None)
    # walk the Net's flat param list so that a blob shared by name is counted once
    all_params = getattr(net, "_all_params", None)
    if all_params is not None and owners is not None:
        kinds = []
        for layer in net.layers:
            kinds += [layer.type] * len(layer.blobs)
        for blob, owner, kind in zip(all_params, owners, kinds):
            if owner >= 0:
                continue
            stored += blob.count()
            if kind not in STATISTICS_LAYERS:
                learnable += blob.count()
        return learnable, stored
    for layer in net.layers:
        for blob in layer.blobs:
            stored += blob.count()
            if layer.type not in STATISTICS_LAYERS:
                learnable += blob.count()
    return learnable, stored


def summary_rows(net):
    """[(name, type, [top shapes], [param shapes], param values)] for every layer."""
    rows = []
    for name, layer, tops in zip(net.layer_names, net.layers, net.top_vecs):
        rows.append((name, layer.type, [t.shape for t in tops], [b.shape for b in layer.blobs],
                     sum(b.count() for b in layer.blobs)))
    return rows


def format_table(net):
    rows = summary_rows(net)
    header = ("layer", "type", "top shape", "param shapes", "params")
    body = [(n, t, ", ".join(_shape(s) for s in tops) or "-", ", ".join(_shape(s) for s in ps) or "-",
             f"{c:,}" if c else "-") for n, t, tops, ps, c in rows]
    widths = [max(len(header[i]), *(len(r[i]) for r in body)) if body else len(header[i]) for i in range(5)]
    widths = [min(w, 48) for w in widths]

    def line(cells):
        out = []
        for i, (cell, w) in enumerate(zip(cells, widths)):
            out.append(cell.rjust(w) if i == 4 else cell.ljust(w))
        return "  ".join(out).rstrip()

    lines = [line(header), "  ".join("-" * w for w in widths)]
    lines += [line(r) for r in body]
    learnable, stored = param_counts(net)
    data_values = sum(b.count() for b in net.blobs.values())
    lines.append("")
    lines.append(f"Layers: {len(rows)}   blobs: {len(net.blobs)} ({data_values:,} values, "
                 f"{data_values * net.dtype.itemsize / 2**20:.1f} MiB)")
    lines.append(f"Learnable parameters: {learnable:,}")
    if stored != learnable:
        lines.append(f"Stored parameters (incl. BatchNorm statistics): {stored:,}")
    else:
        lines.append(f"Stored parameters: {stored:,}")
    return "\n".join(lines)


def run(args):
    from caffeine.net import Net
    phase = args.phase.upper()
    if phase not in ("TRAIN", "TEST"):
        raise UsageError("--phase must be TRAIN or TEST", field="--phase", expected="TRAIN|TEST", found=args.phase)
    net = Net(args.net, phase=0 if phase == "TRAIN" else 1, level=args.level, stages=stages(args))
    if args.weights:
        net.copy_from(args.weights)
    print(f'Net "{net.name}" ({phase})')
    print(format_table(net))
    return 0
