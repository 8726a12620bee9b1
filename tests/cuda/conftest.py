"""GPU tests: ``@pytest.mark.gpu`` tests run only where caffeine.backend finds CuPy and a
CUDA device; elsewhere they are skipped with the reason."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # layer_cases


def pytest_collection_modifyitems(config, items):
    from caffeine import backend
    gpu_items = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not gpu_items or backend.gpu_available():
        return
    try:
        backend.cupy_or_raise()
        reason = "no CUDA GPU"
    except backend.GPUUnavailableError as exc:
        reason = f"no CUDA GPU: {exc}"
    skip = pytest.mark.skip(reason=reason)
    for item in gpu_items:
        item.add_marker(skip)
