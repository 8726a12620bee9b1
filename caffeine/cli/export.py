"""Export a trained net: `caffeine export --format onnx NET WEIGHTS OUT.onnx`.

NET is a deploy prototxt (an Input layer, no data or loss layers), WEIGHTS its caffemodel.
The ONNX graph (opset 13, symbolic batch dimension) reproduces Caffe's arithmetic, including
its pooling rounding; see caffeine/export_onnx.py for the layer types it handles.
"""
import logging

from caffeine.errors import UsageError

log = logging.getLogger("caffeine")


def add_arguments(parser):
    parser.add_argument("net", help="deploy .prototxt")
    parser.add_argument("weights", help="trained .caffemodel")
    parser.add_argument("output", help="file to write (e.g. model.onnx)")
    parser.add_argument("--format", default="onnx", help="export format (only onnx)")
    parser.add_argument("--static_batch", action="store_true",
                        help="keep the prototxt's batch size instead of a symbolic one")


def run(args):
    if args.format.lower() != "onnx":
        raise UsageError("unsupported export format", field="--format", expected="onnx", found=args.format)
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise UsageError("ONNX export needs the onnx package: pip install 'caffeine-dl[onnx]'") from None
    from caffeine.export_onnx import export_onnx
    from caffeine.net import Net
    net = Net(args.net, args.weights, 1)
    model = export_onnx(net, args.output, dynamic_batch=not args.static_batch)
    outputs = ", ".join(o.name for o in model.graph.output)
    print(f"Wrote {args.output}: {len(model.graph.node)} ONNX nodes, inputs "
          f"{', '.join(i.name for i in model.graph.input)}, outputs {outputs} (opset {model.opset_import[0].version})")
    return 0
