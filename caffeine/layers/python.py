"""Python layers, as pycaffe's PythonLayer.

A prototxt names a user class::

    layer { type: "Python" name: "scale" bottom: "x" top: "y"
            python_param { module: "my_layers" layer: "ScaleLayer" param_str: "2.5" } }

``my_layers`` is imported from ``sys.path`` (then ``$PYTHONPATH``, the working
directory and the net file's folder), the class is instantiated with the
LayerParameter as pycaffe does, ``param_str`` and ``phase`` are set on it, and
then caffeine calls ``setup(bottom, top)`` once and ``reshape``, ``forward(bottom,
top)``, ``backward(top, propagate_down, bottom)`` as Caffe does.  bottom/top are
lists of caffeine Blobs (``.data``/``.diff`` numpy arrays, ``.reshape(*shape)``,
``.shape``, ``.count``).  Learnable parameters: ``self.blobs.add_blob(*shape)``.

User classes subclass ``PythonLayerBase`` (exported as ``caffeine.Layer``, the
counterpart of ``caffe.Layer``); a plain class with the same methods works too.
"""
import importlib
import os
import sys

from caffeine.blob import Blob
from caffeine.layers import register_layer
from caffeine.layers.base import Layer


class BlobVec(list):
    """A layer's parameter blobs, with pycaffe's ``add_blob(*shape)``."""

    def __init__(self, *args, dtype="float32"):
        super().__init__(*args)
        self.dtype = dtype

    def add_blob(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        blob = Blob(*shape, dtype=self.dtype)
        self.append(blob)
        return blob


class PythonLayerBase:
    """Base class for user-written Python layers (pycaffe's ``caffe.Layer``)."""

    def __init__(self, param=None):
        self.layer_param = param
        self.blobs = BlobVec()
        self.param_str = param.python_param.param_str if param is not None else ""
        self.phase = param.phase if param is not None else 0

    def setup(self, bottom, top):
        pass

    def reshape(self, bottom, top):
        pass

    def forward(self, bottom, top):
        raise NotImplementedError(f"{type(self).__name__} does not define forward(bottom, top)")

    def backward(self, top, propagate_down, bottom):
        if any(propagate_down):
            raise NotImplementedError(f"{type(self).__name__} does not define backward(top, propagate_down, bottom)")


def _extra_search_paths(source_dir):
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    paths.append(os.getcwd())
    if source_dir:
        paths.append(str(source_dir))
    return paths


@register_layer("Python")
class PythonLayer(Layer):
    allow_inplace = True  # Caffe leaves that to the user's layer

    def _import(self, module_name):
        # sys.path first; the extra folders are appended (kept, so the module's own
        # lazy imports of its neighbours keep working)
        for path in _extra_search_paths(getattr(self, "source_dir", None)):
            if path not in sys.path:
                sys.path.append(path)
        field = "python_param.module"
        try:
            return importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                raise self.error(f"cannot import Python layer module '{module_name}': no such module on "
                                 "sys.path, $PYTHONPATH, the working directory or the net's folder "
                                 f"(ModuleNotFoundError: {exc})", field=field) from exc
            raise self.error(f"importing Python layer module '{module_name}' failed: "
                             f"{type(exc).__name__}: {exc}", field=field) from exc
        except Exception as exc:  # SyntaxError, errors raised by the module's top-level code
            raise self.error(f"importing Python layer module '{module_name}' failed: "
                             f"{type(exc).__name__}: {exc}", field=field) from exc

    def _instantiate(self, module, class_name):
        cls = getattr(module, class_name, None)
        if cls is None or not isinstance(cls, type):
            classes = sorted(n for n, v in vars(module).items() if isinstance(v, type) and not n.startswith("_")
                             and getattr(v, "__module__", None) == module.__name__)
            where = getattr(module, "__file__", module.__name__)
            expected = "one of: " + ", ".join(classes) if classes else "a class"
            raise self.error(f"Python layer module '{module.__name__}' ({where}) has no class '{class_name}'",
                             field="python_param.layer", expected=expected, found=class_name)
        # pycaffe calls the class with the LayerParameter; a class without its own
        # __init__ (not derived from caffeine.Layer) takes no argument
        if cls.__init__ is object.__init__:
            return cls()
        return cls(self.layer_param)

    def setup(self, bottom, top):
        pp = self.layer_param.python_param
        if not pp.module:
            raise self.error("python_param.module is required", field="python_param.module")
        if not pp.layer:
            raise self.error("python_param.layer (the class name) is required", field="python_param.layer")
        self.py = self._instantiate(self._import(pp.module), pp.layer)
        blobs = getattr(self.py, "blobs", None)
        if not isinstance(blobs, BlobVec):
            blobs = BlobVec(blobs or [])
            self.py.blobs = blobs
        blobs.dtype = self.dtype
        self.blobs = blobs  # the same list: the net and the solver see what the user adds
        self.py.param_str = pp.param_str
        self.py.param_str_ = pp.param_str  # the name used by pycaffe before 1.0
        self.py.phase = int(self.phase)
        self.share_in_parallel = bool(pp.share_in_parallel)
        if hasattr(self.py, "setup"):
            self.py.setup(bottom, top)

    def _sync_param_flags(self):
        # blobs the user added after setup (in reshape) also get a gradient
        missing = len(self.blobs) - len(self.param_propagate_down)
        if missing > 0:
            self.param_propagate_down += [True] * missing

    def reshape(self, bottom, top):
        if hasattr(self.py, "reshape"):
            self.py.reshape(bottom, top)

    def forward_cpu(self, bottom, top):
        self.py.forward(bottom, top)

    def backward_cpu(self, top, propagate_down, bottom):
        self._sync_param_flags()
        backward = getattr(self.py, "backward", None)
        if backward is None:
            super().backward_cpu(top, propagate_down, bottom)
            return
        backward(top, list(propagate_down), bottom)
