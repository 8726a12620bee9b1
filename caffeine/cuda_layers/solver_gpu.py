"""The solver update rules on the GPU: one fused kernel per rule (solver_updates.cu).

``gpu_update(rule, g, hist, local_rate, hp, it, tmp=None)`` takes the arguments of
``caffeine.solvers.updates.UpdateRule.compute`` after the rule (given by name: "SGD",
"Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam", or the rule class), so the solver's
ApplyUpdate can call it for device arrays instead of the xp expressions:

    if backend.is_gpu():
        solver_gpu.gpu_update(self.rule, diffs[i], hist[i::n], local_rate, self.hp, self.iter)

(the fused kernels need no scratch arrays: ``tmp`` is accepted and ignored).

g (the param diff, already normalized and regularized) becomes the step; the history
arrays are updated in place.  Hyper-parameters are float32 as in updates.Hyper.
"""
import numpy as np

from caffeine.cuda_layers.launch import run

F32 = np.float32


def _s(value, dtype):
    return np.dtype(dtype).type(value)


def gpu_update(rule, g, hist, local_rate, hp, it, tmp=None):
    name = getattr(rule, "name", rule)
    dt = g.dtype
    n = g.size
    if n == 0:
        return
    if name == "SGD":
        run("solver_updates", "sgd_update", n, g, hist[0], _s(hp.momentum, dt), _s(local_rate, dt), dtype=dt)
    elif name == "Nesterov":
        run("solver_updates", "nesterov_update", n, g, hist[0], _s(hp.momentum, dt), _s(local_rate, dt),
            dtype=dt)
    elif name == "AdaGrad":
        run("solver_updates", "adagrad_update", n, g, hist[0], _s(hp.delta, dt), _s(local_rate, dt), dtype=dt)
    elif name == "RMSProp":
        run("solver_updates", "rmsprop_update", n, g, hist[0], _s(hp.rms_decay, dt), _s(hp.delta, dt),
            _s(local_rate, dt), dtype=dt)
    elif name == "AdaDelta":
        run("solver_updates", "adadelta_update", n, g, hist[0], hist[1], _s(hp.momentum, dt), _s(hp.delta, dt),
            _s(local_rate, dt), dtype=dt)
    elif name == "Adam":
        from caffeine.solvers.updates import Adam
        corrected = F32(local_rate * Adam.correction(hp, it))
        run("solver_updates", "adam_update", n, g, hist[0], hist[1], _s(hp.momentum, dt), _s(hp.momentum2, dt),
            _s(hp.delta, dt), _s(corrected, dt), dtype=dt)
    else:
        raise ValueError(f"unknown solver update rule {name!r}")


def first_nonfinite(arrays):
    """Index of the first device array holding a NaN/Inf, or None, with ONE readback.

    The divergence guard's per-array ``float(array.sum())`` costs a device synchronization
    per param; this sums every array on the device, stacks the sums and reads them back
    once (an inf/NaN element makes its sum non-finite; a finite-but-overflowing sum is
    re-checked exactly)."""
    from caffeine.cuda_layers.launch import cp
    if not arrays:
        return None
    xp = cp()
    finite = xp.isfinite(xp.stack([a.sum(dtype=xp.float64) for a in arrays])).get()  # the one readback
    if finite.all():
        return None
    for i in (~finite).nonzero()[0].tolist():
        if not bool(xp.isfinite(arrays[i]).all()):
            return int(i)
    return None
