"""Convert a list of images to an LMDB of Datums (Caffe's convert_imageset).

`caffeine convert_imageset [--resize_height H --resize_width W --gray --shuffle
--backend lmdb --encoded --encode_type png|jpg --check_size] ROOTFOLDER/ LISTFILE DB_NAME`

LISTFILE lines are `relative/path label` (the last space separates the label, so
paths may contain spaces).  Each image is read with OpenCV (colour: BGR; --gray:
one channel), resized with INTER_LINEAR when both sizes are given, and stored as a
C×H×W Datum (or, with --encoded, the JPEG/PNG bytes) under the key `%08d_path`.
A missing or unreadable image, or a bad label, is reported with its line number
and skipped, as Caffe skipped unreadable images; with --check_size an image of a
different size stops the conversion (Caffe's CHECK), keeping what was committed.
"""
import logging
import os

import numpy as np

from caffeine.errors import DataError, UsageError

log = logging.getLogger("caffeine")

try:
    import cv2
except ImportError:  # pragma: no cover
    cv2 = None


def add_arguments(parser):
    parser.add_argument("--gray", action="store_true", help="read images in grayscale")
    parser.add_argument("--shuffle", action="store_true", help="shuffle the list order")
    parser.add_argument("--backend", default="lmdb", choices=("lmdb", "leveldb"),
                        help="DB backend (default lmdb)")
    parser.add_argument("--resize_width", type=int, default=0, help="resize width (0: keep)")
    parser.add_argument("--resize_height", type=int, default=0, help="resize height (0: keep)")
    parser.add_argument("--check_size", action="store_true",
                        help="stop when images differ in size")
    parser.add_argument("--encoded", action="store_true",
                        help="store the encoded image bytes (JPEG/PNG) in the Datum")
    parser.add_argument("--encode_type", default="",
                        help="re-encode as png or jpg (default: keep each file's format)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for --shuffle (default: random)")
    parser.add_argument("root_folder", help="folder the list's paths are relative to")
    parser.add_argument("listfile", help="text file of 'path label' lines")
    parser.add_argument("db_name", help="output DB folder")


def read_list(listfile):
    """[(line number, path, label)] and [(line number, message)] for the bad lines."""
    if not os.path.isfile(listfile):
        raise DataError(f"list file '{listfile}' does not exist", file=listfile)
    entries, bad = [], []
    with open(listfile, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            path, sep, label = line.rstrip().rpartition(" ")
            if not sep or not path:
                bad.append((number, f"expected 'path label', found {line.strip()!r}"))
                continue
            try:
                entries.append((number, path, int(label)))
            except ValueError:
                bad.append((number, f"label {label!r} is not an integer"))
    return entries, bad


def read_image(path, height, width, is_color):
    """Caffe's ReadImageToCVMat: imread colour/gray, INTER_LINEAR resize when both sizes > 0."""
    img = cv2.imread(path, cv2.IMREAD_COLOR if is_color else cv2.IMREAD_GRAYSCALE)
    if img is None:
        return None
    if height > 0 and width > 0:
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    return img


def image_to_datum(img, label, encoding=None, path=None, resized=False, is_color=True):
    """Caffe's ReadImageToDatum for an already-read image."""
    from caffeine.proto import caffe_pb2
    datum = caffe_pb2.Datum(label=label)
    if encoding:
        ext = os.path.splitext(path or "")[1].lstrip(".").lower()
        same_ext = ext == encoding or (ext == "jpeg" and encoding == "jpg")
        if not resized and same_ext and (img.ndim == 3) == is_color:
            with open(path, "rb") as f:       # the file's own bytes (Caffe's ReadFileToDatum)
                datum.data = f.read()
        else:
            ok, buf = cv2.imencode("." + encoding, img)
            if not ok:
                raise DataError(f"cannot encode '{path}' as {encoding}", file=path)
            datum.data = buf.tobytes()
        datum.encoded = True   # channels/height/width stay 0, as Caffe's; readers decode
        return datum
    chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
    datum.channels, datum.height, datum.width = chw.shape
    datum.data = np.ascontiguousarray(chw).tobytes()
    return datum


def run(args):
    from caffeine.data.db import open_writer
    from caffeine.data.progress import progress
    if (args.resize_height > 0) != (args.resize_width > 0) or min(args.resize_height,
                                                                  args.resize_width) < 0:
        raise UsageError("give both --resize_height and --resize_width (or neither)",
                         field="--resize_height", expected="both > 0 or both 0",
                         found=f"{args.resize_height}x{args.resize_width}")
    encode_type = args.encode_type.lower().lstrip(".")
    if encode_type and encode_type not in ("jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp"):
        raise UsageError("unknown --encode_type", field="--encode_type",
                         expected="png or jpg", found=args.encode_type)
    is_color = not args.gray
    entries, bad = read_list(args.listfile)
    for number, msg in bad:
        log.error("%s:%d: %s; skipped", args.listfile, number, msg)
    if args.shuffle:
        log.info("Shuffling data")
        rng = np.random.default_rng(args.seed)
        entries = [entries[i] for i in rng.permutation(len(entries))]
    log.info("A total of %d images.", len(entries))
    resized = args.resize_height > 0 and args.resize_width > 0
    count, skipped, size = 0, len(bad), None
    with open_writer(args.db_name, args.backend, clear=True) as db, \
            progress(total=len(entries), desc="convert_imageset", unit="img") as bar:
        for line_id, (number, rel, label) in enumerate(entries):
            bar.update(1)
            path = args.root_folder + rel
            img = read_image(path, args.resize_height, args.resize_width, is_color)
            if img is None:
                why = "does not exist" if not os.path.exists(path) else "is not a readable image"
                log.error("%s:%d: could not open or find file %s (%s); skipped",
                          args.listfile, number, path, why)
                skipped += 1
                continue
            if args.check_size:
                if size is None:
                    size = img.shape
                elif img.shape != size:
                    db.commit()
                    raise DataError(f"{args.listfile}:{number}: image {path} has size "
                                    f"{_hwc(img.shape)}, the first image {_hwc(size)} "
                                    f"(--check_size); {count} images were written",
                                    file=args.listfile, line=number,
                                    expected=_hwc(size), found=_hwc(img.shape))
            encoding = encode_type or (os.path.splitext(rel)[1].lstrip(".").lower()
                                       if args.encoded else "")
            if args.encoded and not encoding:
                log.warning("Failed to guess the encoding of '%s'; storing PNG", rel)
                encoding = "png"
            datum = image_to_datum(img, label, encoding if args.encoded else None, path,
                                   resized, is_color)
            db.put(b"%08d_%s" % (line_id, rel.encode()), datum.SerializeToString())
            count += 1
            if count % 1000 == 0:
                log.info("Processed %d files.", count)
    log.info("Processed %d files.", count)
    if skipped:
        log.warning("Skipped %d of %d list lines (see the errors above).", skipped,
                    len(entries) + len(bad))
    print(f"Processed {count} files." + (f" Skipped {skipped}." if skipped else ""))
    return 0


def _hwc(shape):
    return "x".join(str(s) for s in shape)
