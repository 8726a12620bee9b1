"""Shared pytest fixtures for caffeine's tests."""

import logging
import sys
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(_ROOT))

from caffeine.testing.shared import shared_path  # noqa: E402


@pytest.fixture
def shared():
    """``shared("zoo", "bvlc_lenet", "lenet_iter_10000.caffemodel") -> Path``.

    Skips the test when the shared data is absent; fails it instead when
    CAFFEINE_REQUIRE_SHARED=1.
    """
    return shared_path


@pytest.fixture
def caffeine_log(caplog):
    """caplog that also sees the 'caffeine' logger after the CLI turned its propagation off."""
    logger = logging.getLogger("caffeine")
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)
