"""Build data sets as LMDBs: `caffeine data digits|mnist|cifar10 DIR [--from LOCAL]`.

digits   a built-in offline synthetic MNIST-like set (no download)
mnist    the MNIST idx files, downloaded (checksums verified) or from --from FOLDER
cifar10  the binary CIFAR-10 archive, downloaded or from --from (tar.gz or folder)

Each writes DIR/train_lmdb and DIR/test_lmdb (cifar10 also DIR/mean.binaryproto).
"""
import logging
import time

from caffeine.errors import UsageError

log = logging.getLogger("caffeine")


def add_arguments(parser):
    # one flat parser (no sub-parsers) so every flag is known to the dispatcher
    parser.add_argument("dataset", choices=("digits", "mnist", "cifar10"), help="which data set")
    parser.add_argument("dir", help="output folder (gets train_lmdb and test_lmdb)")
    parser.add_argument("--from", dest="source", default=None,
                        help="mnist: folder with the idx files (.gz or not); cifar10: "
                             "cifar-10-binary.tar.gz or its extracted folder (default: download)")
    parser.add_argument("--train", type=int, default=None, help="digits: train images (24000)")
    parser.add_argument("--test", type=int, default=None, help="digits: test images (4000)")
    parser.add_argument("--seed", type=int, default=None, help="digits: generator seed (1701)")
    parser.add_argument("--bgr", action="store_true",
                        help="cifar10: write B,G,R planes (default: the archive's R,G,B, as Caffe)")


def _only_for(args, dataset, flags):
    for flag in flags:
        value = getattr(args, flag.lstrip("-").replace("from", "source"))
        if value not in (None, False):
            raise UsageError(f"{flag} is not a flag of 'caffeine data {args.dataset}'",
                             field=flag, expected=f"only with {dataset}", found=args.dataset)


def run(args):
    start = time.perf_counter()
    if args.dataset != "digits":
        _only_for(args, "digits", ("--train", "--test", "--seed"))
    if args.dataset != "cifar10":
        _only_for(args, "cifar10", ("--bgr",))
    if args.dataset == "digits":
        from caffeine.data import digits
        _only_for(args, "mnist and cifar10", ("--from",))
        train = digits.DEFAULT_TRAIN if args.train is None else args.train
        test = digits.DEFAULT_TEST if args.test is None else args.test
        for name, value in (("--train", train), ("--test", test)):
            if value < 0:
                raise UsageError(f"{name} must be >= 0", field=name, expected=">= 0", found=value)
        seed = digits.DEFAULT_SEED if args.seed is None else args.seed
        paths = digits.build(args.dir, train=train, test=test, seed=seed)
        summary = f"{train} train and {test} test digits in {paths[0]}, {paths[1]}"
    elif args.dataset == "mnist":
        from caffeine.data import mnist
        written = mnist.convert(args.dir, args.source)
        summary = ", ".join(f"{n} {split} images in {p}" for split, (p, n) in written.items())
    else:
        from caffeine.data import cifar10
        written = cifar10.convert(args.dir, args.source, bgr=args.bgr)
        summary = ", ".join(f"{n} {split} images in {p}" for split, (p, n) in written.items())
    print(f"Wrote {summary} ({time.perf_counter() - start:.1f} s)")
    return 0
