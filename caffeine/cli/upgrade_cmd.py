"""Upgrade legacy (V0/V1) net and solver definitions to the current format."""
import logging

from caffeine.errors import UsageError

log = logging.getLogger("caffeine")


def add_arguments_for(verb, parser):
    parser.add_argument("input", help="file to upgrade")
    parser.add_argument("output", help="where to write the upgraded file")


def add_arguments(parser):
    add_arguments_for("", parser)


def run(args):
    from caffeine.proto import io as proto_io
    if args.input == args.output:
        raise UsageError("refusing to overwrite the input file; give another output path",
                         expected="OUT != IN", found=args.output)
    if args.verb == "upgrade_net_proto_text":
        proto_io.write_net_text(proto_io.read_net_param(args.input), args.output)
    elif args.verb == "upgrade_net_proto_binary":
        proto_io.write_net_binary(proto_io.read_net_binary(args.input), args.output)
    else:
        proto_io.write_solver_text(proto_io.read_solver_param(args.input), args.output)
    log.info("Wrote upgraded file to %s", args.output)
    return 0
