"""Errors for bad input.

Every error a user can cause by giving caffeine a bad file, flag or parameter is a
``ConfigError`` (a ``ValueError``).  It carries where the problem is (file, line,
column), which layer / blob / field is at fault, and what was expected versus found,
so the CLI can print one clear message and exit with status 2 instead of a
traceback (Caffe aborted with a CHECK failure here).
"""


class ConfigError(ValueError):
    """Bad user input: prototxt, caffemodel, flags, layer parameters, data."""

    def __init__(self, message, *, file=None, line=None, column=None, layer=None,
                 layer_type=None, blob=None, field=None, expected=None, found=None):
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.layer = layer
        self.layer_type = layer_type
        self.blob = blob
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(self.format())

    def format(self):
        """One human line: ``file:line:col: layer 'x' (Type): message (expected A, found B)``."""
        where = ""
        if self.file:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        who = ""
        if self.layer:
            who = f"layer '{self.layer}'"
            if self.layer_type:
                who += f" ({self.layer_type})"
            who += ": "
        elif self.layer_type:
            who = f"{self.layer_type} layer: "
        text = where + who + self.message
        if self.field and f"'{self.field}'" not in self.message and self.field not in self.message:
            text += f" [field {self.field}]"
        if self.expected is not None or self.found is not None:
            text += f" (expected {self.expected}, found {self.found})"
        return text

    def with_context(self, **ctx):
        """Fill in location fields that are still unknown and return self (for re-raise)."""
        for key, value in ctx.items():
            if getattr(self, key, None) is None and value is not None:
                setattr(self, key, value)
        self.args = (self.format(),)
        return self

    def __str__(self):
        return self.format()


class PrototxtError(ConfigError):
    """A .prototxt that protobuf's text parser rejects, or a field with a bad value."""


class LayerConfigError(ConfigError):
    """A layer's parameters or its bottoms/tops are inconsistent."""


class ShapeError(LayerConfigError):
    """Blob shapes that a layer cannot accept (e.g. kernel larger than input)."""


class WeightsError(ConfigError):
    """A .caffemodel / .solverstate / .binaryproto that is missing, truncated or mismatched."""


class DataError(ConfigError):
    """A data source (LMDB, list file, image, HDF5) that is missing or malformed."""


class UsageError(ConfigError):
    """Bad command-line flags or arguments."""


class SolverError(ConfigError):
    """A solver.prototxt with bad values (negative lr, zero batch size, ...)."""


class TrainingDiverged(RuntimeError):
    """Training produced NaN/Inf; a run-time failure (exit status 1), not bad input."""
