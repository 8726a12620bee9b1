"""`caffeine VERB [flags]`: Caffe's tools under one command.

Every flag accepts `--flag value`, `--flag=value` and Caffe's `-flag value`.
Exit status: 0 success, 1 run-time failure, 2 bad input or usage; bad input prints
one message and never a traceback.
"""
import argparse
import importlib
import re
import sys

from caffeine.errors import ConfigError, TrainingDiverged

# verb -> module in caffeine.cli (explicit, like the layer registry)
VERBS = {
    "train": "train",
    "test": "test_cmd",
    "time": "time_cmd",
    "device_query": "device_query",
    "data": "data_cmd",
    "convert_imageset": "convert_imageset",
    "compute_image_mean": "compute_image_mean",
    "extract_features": "extract_features",
    "upgrade_net_proto_text": "upgrade_cmd",
    "upgrade_net_proto_binary": "upgrade_cmd",
    "upgrade_solver_proto_text": "upgrade_cmd",
    "draw_net": "draw_net",
    "parse_log": "parse_log",
    "plot_log": "plot_log",
    "classify": "classify",
    "zoo": "zoo",
    "export": "export",
    "summary": "summary",
}

_SINGLE_DASH_FLAG = re.compile(r"^-([A-Za-z][A-Za-z0-9_]+)(=.*)?$")


def normalize_flags(argv):
    """Turn Caffe/gflags' `-solver x` and `-gpu=0` into `--solver x` / `--gpu=0`."""
    out = []
    for arg in argv:
        m = _SINGLE_DASH_FLAG.match(arg)
        out.append("-" + arg if m else arg)
    return out


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def build_parser(verb):
    module = importlib.import_module(f"caffeine.cli.{VERBS[verb]}")
    parser = _Parser(prog=f"caffeine {verb}", allow_abbrev=False, description=(module.__doc__ or "").strip().splitlines()[0]
                     if module.__doc__ else None)
    if hasattr(module, "add_arguments_for"):
        module.add_arguments_for(verb, parser)
    else:
        module.add_arguments(parser)
    return module, parser


def _reject_unknown_flags(parser, argv):
    """Name an unknown flag (with the closest known one) before argparse complains about
    missing required flags, which would hide the typo."""
    import difflib
    known, pending = set(), [parser]
    while pending:  # the verb's flags and those of its sub-commands (e.g. `zoo download --from`)
        p = pending.pop()
        for action in p._actions:
            known.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    for arg in argv:
        if arg == "--":
            break
        if arg.startswith("--"):
            flag = arg.split("=", 1)[0]
            if flag not in known:
                close = difflib.get_close_matches(flag, sorted(known), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                parser.error(f"unknown flag {flag}{hint}")


def usage():
    lines = ["usage: caffeine VERB [flags]", "", "verbs:"]
    lines += [f"  {v}" for v in VERBS]
    lines += ["", "`caffeine VERB --help` shows the flags of a verb."]
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("--version", "-version", "version"):
        from caffeine import __version__
        print(f"caffeine {__version__}")
        return 0
    verb, rest = argv[0], normalize_flags(argv[1:])
    if verb not in VERBS:
        import difflib
        close = difflib.get_close_matches(verb, list(VERBS), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        print(f"caffeine: unknown verb '{verb}'.{hint}\n{usage()}", file=sys.stderr)
        return 2
    from caffeine.log import setup_logging
    try:
        module, parser = build_parser(verb)
    except ModuleNotFoundError as exc:
        print(f"caffeine {verb}: this verb is not available in this build ({exc})", file=sys.stderr)
        return 2
    _reject_unknown_flags(parser, rest)
    args = parser.parse_args(rest)
    args.verb = verb
    setup_logging(quiet=getattr(args, "quiet", False))
    try:
        status = module.run(args)
        return int(status or 0)
    except ConfigError as exc:
        print(f"caffeine {verb}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingDiverged as exc:
        print(f"caffeine {verb}: training diverged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"caffeine {verb}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"caffeine {verb}: I/O error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
