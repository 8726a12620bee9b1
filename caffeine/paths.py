"""Resolve relative paths as Caffe users expect.

Caffe opened relative paths (data sources, mean files, snapshot prefixes, nets named
in a solver) against the working directory.  caffeine does the same first and then
falls back to the folder of the file that named the path, so a model folder also
works when run from elsewhere.
"""
import os


def resolve_path(path, source_dir=None):
    """Return ``path`` if it exists relative to the CWD, else relative to source_dir
    if it exists there, else ``path`` unchanged (callers report it as missing)."""
    if not path or os.path.isabs(path) or os.path.exists(path):
        return path
    if source_dir:
        candidate = os.path.join(source_dir, path)
        if os.path.exists(candidate):
            return candidate
    return path


def resolve_output_path(path, source_dir=None):
    """For files to be written (snapshot prefixes): CWD-relative if its folder exists,
    else relative to source_dir when that folder exists there."""
    if not path or os.path.isabs(path):
        return path
    folder = os.path.dirname(path) or "."
    if os.path.isdir(folder):
        return path
    if source_dir and os.path.isdir(os.path.join(source_dir, folder)):
        return os.path.join(source_dir, path)
    return path
