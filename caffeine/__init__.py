"""caffeine: Caffe's nets, solvers, caffemodels and LMDBs in Python (pycaffe-compatible API)."""
from caffeine.backend import set_device, set_mode_cpu, set_mode_gpu, set_random_seed
from caffeine.blob import Blob
from caffeine.errors import ConfigError
from caffeine import layers  # noqa: F401 - also NetSpec's `L`: caffeine.layers.Convolution(...)
from caffeine.layers import layer_types

__version__ = "0.1.0"

TRAIN = 0
TEST = 1

_LAZY = {
    "Net": ("caffeine.net", "Net"),
    "get_solver": ("caffeine.solvers", "get_solver"),
    "SGDSolver": ("caffeine.solvers", "SGDSolver"),
    "NesterovSolver": ("caffeine.solvers", "NesterovSolver"),
    "AdaGradSolver": ("caffeine.solvers", "AdaGradSolver"),
    "RMSPropSolver": ("caffeine.solvers", "RMSPropSolver"),
    "AdaDeltaSolver": ("caffeine.solvers", "AdaDeltaSolver"),
    "AdamSolver": ("caffeine.solvers", "AdamSolver"),
    "io": ("caffeine.io", None),
    "proto": ("caffeine.proto", None),
    "NetSpec": ("caffeine.net_spec", "NetSpec"),
    "params": ("caffeine.net_spec", "params"),
    "Layer": ("caffeine.layers.python", "PythonLayerBase"),
    "to_proto": ("caffeine.net_spec", "to_proto"),
    "Classifier": ("caffeine.classifier", "Classifier"),
}


def __getattr__(name):
    """Import heavier submodules on first use so `import caffeine` stays fast."""
    if name not in _LAZY:
        raise AttributeError(f"module 'caffeine' has no attribute '{name}'")
    import importlib
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


__all__ = ["Blob", "ConfigError", "Net", "TRAIN", "TEST", "set_mode_cpu", "set_mode_gpu", "set_device",
           "set_random_seed", "layer_types", "get_solver", "SGDSolver", "NesterovSolver", "AdaGradSolver",
           "RMSPropSolver", "AdaDeltaSolver", "AdamSolver", "io", "proto", "NetSpec", "layers", "params",
           "Layer", "Classifier"]
