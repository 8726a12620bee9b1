"""Classify images with a trained net: `caffeine classify --model_def D --pretrained_model W IMAGE|DIR ...`.

pycaffe's python/classify.py: every image is resized to --images_dim, cropped to the net's
input (centre with --center_only, else pycaffe's 10-crop oversample averaged), turned
RGB->BGR (--channel_swap), scaled to 0..255 (--raw_scale), mean-subtracted (--mean_file:
.npy or .binaryproto, C×H×W or per-channel) and scaled (--input_scale).  Prints the top-k
classes with their probabilities (names from --labels, e.g. synset_words.txt); --output
saves the N×classes predictions as .npy (Caffe's output_file).  A folder argument means
every image in it (or those with --ext); a .npy argument is an N×H×W×C array of images.
"""
import glob
import logging
import os

import numpy as np

from caffeine.cli.common import select_mode
from caffeine.errors import DataError, UsageError

log = logging.getLogger("caffeine")
IMAGE_EXTS = ("jpg", "jpeg", "png", "bmp", "ppm", "pgm", "tif", "tiff", "webp")


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", help="image files, folders of images, or a .npy of images")
    parser.add_argument("--model_def", "--model", dest="model_def", required=True, help="deploy .prototxt")
    parser.add_argument("--pretrained_model", "--weights", dest="pretrained_model", required=True,
                        help="trained .caffemodel")
    parser.add_argument("--output", default="", help="save the N x classes predictions to this .npy")
    parser.add_argument("--labels", default="", help="class names, one per line (e.g. synset_words.txt)")
    parser.add_argument("--top_k", type=int, default=5, help="classes to print per image (default 5)")
    parser.add_argument("--gpu", nargs="?", const="0", default="", help="use GPU (optionally its id)")
    parser.add_argument("--center_only", action="store_true", help="only the centre crop (default: 10 crops)")
    parser.add_argument("--images_dim", default="256,256", help="height,width to resize to (default 256,256)")
    parser.add_argument("--mean_file", default="", help="mean to subtract: .npy or .binaryproto")
    parser.add_argument("--input_scale", type=float, default=None, help="multiply by this after the mean")
    parser.add_argument("--raw_scale", type=float, default=255.0, help="multiply [0,1] pixels by this (255)")
    parser.add_argument("--channel_swap", default="2,1,0",
                        help="channel order after transpose, RGB->BGR by default ('' keeps RGB)")
    parser.add_argument("--ext", default="", help="only files with this extension in folders")


def _ints(text, flag, count=None):
    try:
        values = [int(s) for s in text.split(",") if s.strip() != ""]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated integers", field=flag, found=text) from None
    if count is not None and len(values) != count:
        raise UsageError(f"{flag} takes {count} comma-separated integers", field=flag, found=text)
    return values


def load_mean(path):
    """A mean from .npy (C×H×W or C) or a .binaryproto BlobProto (1×C×H×W)."""
    if not os.path.isfile(path):
        raise DataError("mean file not found", file=path)
    if path.endswith(".npy"):
        try:
            mean = np.load(path)
        except ValueError as exc:
            raise DataError(f"not a .npy array ({exc})", file=path) from None
    else:
        from caffeine import io as cio
        from caffeine.proto import io as proto_io
        mean = cio.blobproto_to_array(proto_io.read_blobproto(path))
        if mean.ndim == 4:
            if mean.shape[0] != 1:
                raise DataError("mean blob must hold one image", file=path, expected="1 x C x H x W", found=mean.shape)
            mean = mean[0]
    return np.asarray(mean, dtype=np.float32)


def gather_inputs(items, ext=""):
    """[(name, image-or-None, path)]: files, folder contents (sorted) and .npy stacks."""
    exts = (ext.lower().lstrip("."),) if ext else IMAGE_EXTS
    found = []
    for item in items:
        if os.path.isdir(item):
            files = sorted(f for f in glob.glob(os.path.join(item, "*"))
                           if os.path.splitext(f)[1].lower().lstrip(".") in exts)
            if not files:
                raise DataError(f"no images (*.{' / *.'.join(exts)}) in folder", file=item)
            found += [(f, None) for f in files]
        elif item.endswith(".npy"):
            if not os.path.isfile(item):
                raise DataError("input file not found", file=item)
            stack = np.load(item)
            if stack.ndim != 4:
                raise DataError("a .npy input must be N x H x W x C images", file=item,
                                expected="4 axes", found=stack.shape)
            found += [(f"{item}[{i}]", im) for i, im in enumerate(stack)]
        else:
            if not os.path.isfile(item):
                raise DataError("input image not found", file=item)
            found.append((item, None))
    return found


def read_labels(path):
    if not os.path.isfile(path):
        raise DataError("labels file not found", file=path)
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def run(args):
    from caffeine import io as cio
    from caffeine.classifier import Classifier
    if args.top_k < 1:
        raise UsageError("--top_k must be at least 1", field="--top_k", found=args.top_k)
    image_dims = _ints(args.images_dim, "--images_dim", 2)
    channel_swap = _ints(args.channel_swap, "--channel_swap") if args.channel_swap.strip() else None
    mean = load_mean(args.mean_file) if args.mean_file else None
    labels = read_labels(args.labels) if args.labels else None
    select_mode(args.gpu)
    clf = Classifier(args.model_def, args.pretrained_model, image_dims=image_dims, mean=mean,
                     input_scale=args.input_scale, raw_scale=args.raw_scale, channel_swap=channel_swap)
    if channel_swap is not None and clf.channels == 1:
        raise UsageError("--channel_swap needs a colour net; this net takes 1 channel (pass --channel_swap '')",
                         field="--channel_swap", found=args.channel_swap)
    entries = gather_inputs(args.inputs, args.ext)
    names = [name for name, _ in entries]
    images = [im if im is not None else cio.load_image(name, color=clf.channels != 1) for name, im in entries]
    log.info("Classifying %d inputs.", len(images))
    predictions = clf.predict(images, oversample=not args.center_only)
    if labels is not None and len(labels) != predictions.shape[1]:
        raise DataError(f"{len(labels)} labels for a net with {predictions.shape[1]} outputs", file=args.labels,
                        expected=predictions.shape[1], found=len(labels))
    k = min(args.top_k, predictions.shape[1])
    for name, probs in zip(names, predictions):
        print(name)
        for rank, cls in enumerate(np.argsort(-probs, kind="stable")[:k], start=1):
            text = labels[cls] if labels is not None else f"class {cls}"
            print(f"  {rank}. {probs[cls]:.6f}  {cls:4d}  {text}")
    if args.output:
        np.save(args.output, predictions)
        log.info("Saved predictions to %s", args.output)
    return 0
