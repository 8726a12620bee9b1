"""The model zoo: `caffeine zoo list` and `caffeine zoo download NAME [--from FILE]`.

`download` fetches models/NAME's caffemodel from the URL in its readme.md (progress bar on a
terminal, resumes a partial download, checks the published sha1, places the file atomically);
`--from FILE` installs a local copy instead, after checking its sha1.
"""
from caffeine import zoo


def add_arguments(parser):
    parser.add_argument("--models", default=None,
                        help="models folder (default: $CAFFEINE_MODELS, ./models, or the package's models/)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    sub.add_parser("list", help="list the models and whether their caffemodel is installed")
    dl = sub.add_parser("download", help="download (or --from: install) a model's caffemodel")
    dl.add_argument("name", help="model folder name (see `caffeine zoo list`) or a model folder path")
    dl.add_argument("--from", dest="from_file", default=None, help="install this local file instead of downloading")
    dl.add_argument("--force", action="store_true", help="download again even if a verified file is present")
    dl.add_argument("--skip-checksum", action="store_true",
                    help="accept a file whose model publishes no checksum (or skip the check)")
    dl.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (default 60)")
    # `caffeine zoo download NAME --models DIR` as well as `caffeine zoo --models DIR download NAME`
    for p in (sub.choices["list"], dl):
        p.add_argument("--models", dest="models_sub", default=None, help="models folder")


def _root(args):
    return getattr(args, "models_sub", None) or args.models


def run(args):
    root = _root(args)
    if args.action == "list":
        models = zoo.list_models(root)
        print(f"{'model':26s} {'installed':9s}  caffemodel / source")
        for m in models:
            path = m["path"] / m.get("caffemodel", "") if m.get("caffemodel") else None
            installed = "yes" if path is not None and path.is_file() else "no"
            source = m.get("caffemodel_url") or "(no URL published: use --from FILE)"
            check = "sha1" if m.get("sha1") else ("md5" if m.get("md5") else "no checksum")
            print(f"{m['folder']:26s} {installed:9s}  {m.get('caffemodel', '-')} [{check}]")
            print(f"{'':26s} {'':9s}  {source}")
        print(f"{len(models)} models in {zoo.default_models_root() if root is None else root}")
        return 0
    if args.from_file:
        zoo.install_local(args.name, args.from_file, root, skip_checksum=args.skip_checksum)
    else:
        zoo.download(args.name, root, force=args.force, skip_checksum=args.skip_checksum, timeout=args.timeout)
    return 0
