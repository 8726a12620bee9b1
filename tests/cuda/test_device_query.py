"""device_query's fields on a CUDA 13 build of CuPy, whose cudaDeviceProp no longer has
clockRate: the clock rate then comes from cudaDeviceGetAttribute instead of a KeyError."""
import types

from caffeine import backend
from caffeine.testing.emulated_gpu import emulated_gpu


def _props_without_clock_rate(i):
    return {"name": "H200", "major": 9, "minor": 0, "totalGlobalMem": 150 << 30, "sharedMemPerBlock": 49152,
            "warpSize": 32, "maxThreadsPerBlock": 1024, "multiProcessorCount": 132}


def test_clock_rate_falls_back_to_the_device_attribute(monkeypatch):
    with emulated_gpu() as cp:
        asked = []

        def attribute(attr, device_id):
            asked.append((attr, device_id))
            return 1980000

        runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDeviceProperties=_props_without_clock_rate,
                                        deviceGetAttribute=attribute)
        monkeypatch.setattr(cp.cuda, "runtime", runtime)
        props = backend.device_properties(0)
    assert props["Clock rate"] == 1980000 and asked == [(13, 0)]
    assert props["Name"] == "H200" and props["Number of multiprocessors"] == 132


def test_a_field_no_api_reports_prints_n_a(monkeypatch):
    with emulated_gpu() as cp:
        runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDeviceProperties=_props_without_clock_rate)
        monkeypatch.setattr(cp.cuda, "runtime", runtime)
        assert backend.device_properties(0)["Clock rate"] == "n/a"
