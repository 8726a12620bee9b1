"""Stop on NaN/Inf with the last good state saved (Caffe trained on, writing NaN snapshots).

The solver checks, every iteration:

1. the loss after forward/backward: if it is not finite, the params and history are
   still those of the last good iteration;
2. every param after the update (a NaN/Inf gradient or an overflowing step lands
   there).  The update is made undoable by copying params and history before it (one
   memcpy of each per iteration; ``solver.check_divergence = False`` turns the guard off).

On divergence :func:`stop` restores the last good params/history/random state,
writes a snapshot of it (when the solver has a snapshot prefix), and raises
:class:`TrainingDiverged` naming the iteration and the first bad layer.
"""
import logging

import numpy as np

from caffeine import backend
from caffeine.errors import TrainingDiverged

log = logging.getLogger("caffeine")


def is_finite(array):
    """True when no element is NaN/Inf."""
    return bool(backend.get_array_module(array).isfinite(array).all())


def first_nonfinite(arrays):
    """Index of the first array holding a NaN/Inf, or None (device arrays: one readback)."""
    if arrays and backend.get_array_module(arrays[0]) is not np:
        from caffeine.cuda_layers.solver_gpu import first_nonfinite as first_nonfinite_on_device
        return first_nonfinite_on_device(arrays)
    for i, array in enumerate(arrays):
        if not is_finite(array):
            return i
    return None


class Backup:
    """Reusable copies of a list of arrays (params and history before an update)."""

    def __init__(self):
        self._copies = []

    def save(self, arrays):
        if len(self._copies) != len(arrays) or any(
                c.shape != a.shape or type(c) is not type(a) for c, a in zip(self._copies, arrays)):
            self._copies = [a.copy() for a in arrays]
            return
        for copy, array in zip(self._copies, arrays):
            copy[...] = array

    def restore(self, arrays):
        for copy, array in zip(self._copies, arrays):
            array[...] = copy


def stop(solver, reason, where=None):
    """Write a snapshot of the last good state and raise TrainingDiverged.

    ``reason`` says what went bad (``loss = nan``); ``where`` names the layer; when None,
    the net is asked for its first non-finite output/gradient; "" adds nothing.
    """
    if where is None:
        where = solver.net.first_nonfinite() or "no layer output or gradient is NaN/Inf"
    snapshot_path = None
    if solver.can_snapshot():
        try:
            snapshot_path = solver.snapshot(extra=solver.iteration_start_extra)
        except Exception as exc:  # the divergence is the error to report; say the snapshot failed
            log.error("Could not write the last good snapshot: %s", exc)
    message = f"Training diverged at iteration {solver.iter}: {reason}" + (f"; {where}." if where else ".")
    if snapshot_path:
        message += f" Last good state (iteration {solver.iter}) saved to {snapshot_path}."
    else:
        message += " No snapshot written (no snapshot_prefix)."
    message += " Lower base_lr, or use clip_gradients."
    log.error(message)
    exc = TrainingDiverged(message)
    exc.iteration = solver.iter
    exc.where = where
    exc.snapshot = snapshot_path
    raise exc
