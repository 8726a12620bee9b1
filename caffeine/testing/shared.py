"""Locate the read-only shared reference data (``../shared`` next to the repository).

Tests that need a shared file call ``shared_path("zoo", "bvlc_lenet",
"lenet_iter_10000.caffemodel")``: it returns the path when the file exists;
otherwise it skips the test with a reason, or fails it when the environment
sets ``CAFFEINE_REQUIRE_SHARED=1`` (so a CI run that must have the data cannot
silently skip).  ``CAFFEINE_SHARED`` may point at another copy of the folder.
"""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


def shared_root():
    """The shared data folder: $CAFFEINE_SHARED, else ``<repo>/../shared``."""
    env = os.environ.get("CAFFEINE_SHARED")
    return Path(env) if env else REPO_ROOT.parent / "shared"


def shared_required():
    return os.environ.get("CAFFEINE_REQUIRE_SHARED", "") not in ("", "0")


def shared_path(*parts):
    """Path of a shared file or folder; skip (or fail if required) when it is absent."""
    path = shared_root().joinpath(*parts)
    if path.exists():
        return path
    import pytest  # only tests call this

    reason = f"shared reference data not found: {path}"
    if shared_required():
        pytest.fail(reason + " (CAFFEINE_REQUIRE_SHARED=1)", pytrace=False)
    pytest.skip(reason)
