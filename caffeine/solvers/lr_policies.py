"""Learning-rate policies, as Caffe's ``SGDSolver::GetLearningRate``.

``iter`` is the number of updates already applied (Caffe's ``iter_``):

=========  ==========================================================
fixed      base_lr
step       base_lr * gamma ^ floor(iter / stepsize)
exp        base_lr * gamma ^ iter
inv        base_lr * (1 + gamma * iter) ^ (-power)
multistep  base_lr * gamma ^ (number of stepvalue entries <= iter)
poly       base_lr * (1 - iter / max_iter) ^ power
sigmoid    base_lr * 1 / (1 + exp(-gamma * (iter - stepsize)))
=========  ==========================================================

Caffe computes the rate in double precision and stores it as a float (``Dtype``);
so does :func:`learning_rate`.  ``multistep`` advances ``current_step`` by at most one
per call, exactly as Caffe (which is why ``current_step`` is part of the solverstate).
"""
import difflib
import logging
import math

import numpy as np

from caffeine.errors import SolverError

log = logging.getLogger("caffeine")

POLICIES = ("fixed", "step", "exp", "inv", "multistep", "poly", "sigmoid")


def _f32(x):
    """A proto float field as the float32 value Caffe reads."""
    return float(np.float32(x))


def _pow(base, exponent):
    """C's pow for the cases a solver can reach: overflow gives inf instead of raising."""
    try:
        return base ** exponent
    except OverflowError:
        return math.inf
    except ZeroDivisionError:
        return math.inf


def validate(param, source=None, line_of=None):
    """Reject what Caffe's GetLearningRate would CHECK-fail on, before training starts."""
    line_of = line_of or (lambda field: None)

    def bad(message, field, expected, found):
        return SolverError(message, file=source, line=line_of(field), field=field,
                           expected=expected, found=found)

    policy = param.lr_policy
    if not param.HasField("lr_policy"):
        raise bad("lr_policy is not set", "lr_policy", " | ".join(POLICIES), "nothing")
    if policy not in POLICIES:
        hint = difflib.get_close_matches(policy.lower(), POLICIES, n=1, cutoff=0.5)
        msg = f"unknown lr_policy '{policy}'"
        if hint:
            msg += f"; did you mean '{hint[0]}'?"
        raise bad(msg, "lr_policy", " | ".join(POLICIES), policy)
    if policy in ("step", "exp", "inv", "multistep") and param.gamma < 0:
        raise bad(f"lr_policy '{policy}' needs a non-negative gamma", "gamma", ">= 0", param.gamma)
    if policy == "step" and param.stepsize <= 0:
        what = "missing" if not param.HasField("stepsize") else param.stepsize
        raise bad(f"lr_policy '{policy}' needs a positive stepsize", "stepsize", "> 0", what)
    if policy == "poly" and param.max_iter <= 0:
        raise bad("lr_policy 'poly' needs a positive max_iter", "max_iter", "> 0", param.max_iter)
    if policy == "multistep":
        values = list(param.stepvalue)
        if not values:
            log.warning("lr_policy 'multistep' without any stepvalue: the rate stays at base_lr")
        for a, b in zip(values, values[1:]):
            if b < a:
                raise bad("stepvalue entries must be increasing", "stepvalue",
                          "an increasing list", values)


def learning_rate(param, it, current_step):
    """Return ``(rate, current_step)`` for iteration ``it`` (rate is a float32 value)."""
    policy = param.lr_policy
    base_lr = _f32(param.base_lr)
    gamma = _f32(param.gamma)
    power = _f32(param.power)
    if policy == "fixed":
        rate = base_lr
    elif policy == "step":
        current_step = it // param.stepsize
        rate = base_lr * _pow(gamma, current_step)
    elif policy == "exp":
        rate = base_lr * _pow(gamma, it)
    elif policy == "inv":
        # Caffe: pow(Dtype(1) + gamma * iter, -power), the base computed in float
        rate = base_lr * _pow(float(np.float32(1.0 + gamma * it)), -power)
    elif policy == "multistep":
        if current_step < len(param.stepvalue) and it >= param.stepvalue[current_step]:
            current_step += 1
            log.info("MultiStep Status: Iteration %d, step = %d", it, current_step)
        rate = base_lr * _pow(gamma, current_step)
    elif policy == "poly":
        frac = float(np.float32(1.0) - np.float32(it) / np.float32(param.max_iter))
        # (a negative base with a fractional power is NaN in C; past max_iter caffeine uses 0)
        rate = base_lr * _pow(frac, power) if frac > 0 or power == int(power) else 0.0
    elif policy == "sigmoid":
        z = -gamma * (float(np.float32(it)) - float(np.float32(param.stepsize)))
        rate = base_lr / (1.0 + math.exp(z)) if z < 700 else 0.0
    else:
        raise SolverError(f"unknown lr_policy '{policy}'", field="lr_policy",
                          expected=" | ".join(POLICIES), found=policy)
    with np.errstate(over="ignore"):
        return float(np.float32(rate)), current_step
