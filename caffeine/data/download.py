"""Download a file from a list of mirrors and verify its checksum (md5 or sha256).

A file already in place with the right checksum is not downloaded again; a partial
download goes to ``NAME.part`` and is renamed only after the checksum matches.
"""
import hashlib
import logging
import os
import urllib.error
import urllib.request

from caffeine.data.progress import progress
from caffeine.errors import DataError

log = logging.getLogger("caffeine")


def file_digest(path, algorithm="md5"):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _algorithm(checksum):
    return "sha256" if len(checksum) == 64 else "md5"


def verify(path, checksum):
    return checksum is None or file_digest(path, _algorithm(checksum)) == checksum.lower()


def fetch(name, mirrors, checksum, folder, timeout=60):
    """``folder/name`` from the first mirror that serves it with the right checksum."""
    os.makedirs(folder, exist_ok=True)
    dest = os.path.join(folder, name)
    if os.path.exists(dest) and verify(dest, checksum):
        log.info("Using %s (checksum ok)", dest)
        return dest
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name if not base.endswith(name) else base
        part = dest + ".part"
        try:
            log.info("Downloading %s", url)
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
                total = resp.headers.get("Content-Length")
                with progress(total=int(total) if total else None, desc=name, unit="B") as bar:
                    for block in iter(lambda: resp.read(1 << 16), b""):
                        out.write(block)
                        bar.update(len(block))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"{url}: {exc}")
            if os.path.exists(part):
                os.unlink(part)
            continue
        if not verify(part, checksum):
            errors.append(f"{url}: checksum mismatch (expected {_algorithm(checksum)} {checksum})")
            os.unlink(part)
            continue
        os.replace(part, dest)
        return dest
    raise DataError(f"could not download {name} from any mirror; use --from with a local copy. "
                    + "; ".join(errors), file=name)
