"""The model zoo: models/<name>/readme.md front matter and caffemodel downloads.

Each model folder carries Caffe's zoo front matter::

    ---
    name: BVLC AlexNet Model
    caffemodel: bvlc_alexnet.caffemodel
    caffemodel_url: http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel
    license: unrestricted
    sha1: 9116a64c0fbe4459d18f4bb6b56d647b63920377
    ---

``download`` fetches ``caffemodel_url`` into the folder as Caffe's
scripts/download_model_binary.py did, and adds what it lacked: a progress bar on a
terminal, resuming a partial download (``<file>.part``, HTTP Range), checksum
verification before the file is placed, and atomic placement (rename of the verified
``.part``), so an interrupted or corrupt download never leaves a half file under the
final name.  ``install_local`` does the same for a file already on disk (offline).
"""
import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
from pathlib import Path

from caffeine.errors import UsageError, WeightsError

CHUNK = 1 << 16
FRONT_MATTER_KEYS = ("name", "caffemodel", "caffemodel_url", "license", "sha1")


class DownloadError(OSError):
    """A download that failed at run time (network, truncated, checksum): exit status 1."""


def default_models_root():
    """$CAFFEINE_MODELS, else ./models when it exists, else the repository's models/."""
    env = os.environ.get("CAFFEINE_MODELS")
    if env:
        return Path(env)
    if Path("models").is_dir():
        return Path("models")
    return Path(__file__).resolve().parent.parent / "models"


def parse_front_matter(path):
    """The ``key: value`` lines between the two ``---`` lines at the top of a readme."""
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise WeightsError("readme has no front matter (it must start with a '---' line)", file=str(path))
    info = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == "---":
            return info
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise WeightsError("front matter line is not 'key: value'", file=str(path), line=number, found=line)
        info[key.strip()] = value.strip()
    raise WeightsError("front matter is not closed by a '---' line", file=str(path))


def model_folder(name, root=None):
    """The folder of model `name` (a name under the models root, or a folder path)."""
    if os.path.isdir(name) and os.path.isfile(os.path.join(name, "readme.md")):
        return Path(name)
    root = Path(root) if root else default_models_root()
    folder = root / name
    if not (folder / "readme.md").is_file():
        known = [m["folder"] for m in list_models(root)] if root.is_dir() else []
        raise UsageError(f"no model '{name}' in {root}", expected=", ".join(known) or "a model folder",
                         found=name)
    return folder


def model_info(folder):
    info = parse_front_matter(Path(folder) / "readme.md")
    info["folder"] = Path(folder).name
    info["path"] = Path(folder)
    return info


def list_models(root=None):
    """Front matter of every models/*/readme.md, sorted by folder name."""
    root = Path(root) if root else default_models_root()
    return [model_info(p.parent) for p in sorted(root.glob("*/readme.md"))]


def file_digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def expected_checksum(info):
    """(algorithm, hex) from the front matter: sha1 as Caffe's zoo, else md5; None if neither."""
    for algorithm in ("sha1", "md5"):
        value = info.get(algorithm, "").strip().lower()
        if value:
            return algorithm, value
    return None


def verify(path, checksum):
    """True when `path` matches `checksum` ((algorithm, hex)); True when there is none."""
    return checksum is None or file_digest(path, checksum[0]) == checksum[1]


def _progress(total, initial, label, enabled):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=label, disable=not enabled, file=sys.stderr, leave=True)


def _place(tmp, dest):
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def _checksum_or_refuse(info, skip_checksum):
    checksum = expected_checksum(info)
    if checksum is None and not skip_checksum:
        raise UsageError(f"model '{info['folder']}' publishes no sha1 or md5, so its file cannot be "
                         "verified; pass --skip-checksum to accept it unverified", field="sha1")
    return None if skip_checksum else checksum


def install_local(name, source, root=None, skip_checksum=False, log=print):
    """Install a caffemodel from a local file after checking it (offline `--from`)."""
    info = model_info(model_folder(name, root))
    checksum = _checksum_or_refuse(info, skip_checksum)
    if not os.path.isfile(source):
        raise WeightsError("file to install not found", file=str(source))
    if checksum is not None:
        found = file_digest(source, checksum[0])
        if found != checksum[1]:
            raise WeightsError(f"{checksum[0]} of the file does not match model '{info['folder']}'",
                               file=str(source), field=checksum[0], expected=checksum[1], found=found)
    dest = info["path"] / info["caffemodel"]
    tmp = Path(f"{dest}.tmp{os.getpid()}")
    try:
        shutil.copyfile(source, tmp)
        _place(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    log(f"Installed {source} as {dest}" + (f" ({checksum[0]} verified)" if checksum else " (unverified)"))
    return dest


def download(name, root=None, force=False, skip_checksum=False, progress=None, timeout=60, log=print):
    """Download model `name`'s caffemodel into its folder; returns the final path."""
    info = model_info(model_folder(name, root))
    url = info.get("caffemodel_url", "").strip()
    if not url:
        raise UsageError(f"model '{info['folder']}' has no caffemodel_url; install a local copy with --from FILE",
                         field="caffemodel_url")
    if not info.get("caffemodel"):
        raise UsageError(f"model '{info['folder']}' readme names no caffemodel file", field="caffemodel")
    checksum = _checksum_or_refuse(info, skip_checksum)
    dest = info["path"] / info["caffemodel"]
    if dest.exists() and not force:
        if verify(dest, checksum):
            log(f"{dest} is already present and verified; nothing to do (use --force to fetch again)")
            return dest
        log(f"{dest} exists but its checksum does not match: downloading it again")
    part = Path(f"{dest}.part")
    if force and part.exists():
        part.unlink()
    progress = sys.stderr.isatty() if progress is None else progress
    _fetch(url, part, progress, timeout, log, label=info["caffemodel"])
    if checksum is not None:
        found = file_digest(part, checksum[0])
        if found != checksum[1]:
            part.unlink()
            raise DownloadError(f"downloaded file's {checksum[0]} is {found}, expected {checksum[1]}: "
                                f"removed the corrupt download of {url}")
    _place(part, dest)
    log(f"Saved {dest}" + (f" ({checksum[0]} verified)" if checksum else " (unverified)"))
    return dest


def _fetch(url, part, progress, timeout, log, label):
    """Fetch url into `part`, resuming from its current size with an HTTP Range request."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "caffeine-zoo"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            log(f"server says {part.name} is already complete ({offset} bytes)")
            return
        raise DownloadError(f"HTTP {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DownloadError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None
    with response:
        status = response.status
        if offset and status == 206:
            mode = "ab"
            log(f"Resuming {label} at byte {offset}")
        else:
            if offset:
                log(f"server ignored the range request: restarting {label} from the beginning")
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        received = 0
        with open(part, mode) as out, _progress(total, offset, label, progress) as bar:
            try:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            except (http.client.IncompleteRead, OSError) as exc:
                out.flush()
                raise DownloadError(f"download of {url} interrupted after {offset + received} bytes ({exc}); "
                                    f"run the same command again to resume") from None
        if total is not None and offset + received < total:
            raise DownloadError(f"download of {url} stopped at {offset + received} of {total} bytes; "
                                f"run the same command again to resume")
