"""The per-parameter update math of Caffe's solvers, vectorized, in float32.

Caffe's ``SGDSolver::ApplyUpdate`` does, for a learnable param with gradient ``g``
(its diff), data ``w``, lr multiplier ``lr_mult`` and decay multiplier ``decay_mult``::

    ClipGradients()                       # once, over all params: global L2 norm
    Normalize:   g *= 1 / iter_size
    Regularize:  g += weight_decay*decay_mult * w        (L2)
                 g += weight_decay*decay_mult * sign(w)  (L1)
    ComputeUpdateValue(rate * lr_mult)    # the rule: turns g into the step
    w -= g                                # Net::Update (Blob::Update)

The functions here take arrays (numpy, or cupy on the GPU: ``xp`` follows the
arrays) and work in place on ``g`` and the history arrays, in the same order of
float32 operations as Caffe's CPU code (``caffe_cpu_axpby`` = scale then add).
"""
import logging
import math

import numpy as np

from caffeine import backend

log = logging.getLogger("caffeine")

F32 = np.float32


class Hyper:
    """The solver's float hyper-parameters as float32 values (Caffe's Dtype)."""

    def __init__(self, param):
        self.momentum = F32(param.momentum)
        self.momentum2 = F32(param.momentum2)
        self.delta = F32(param.delta)
        self.rms_decay = F32(param.rms_decay)
        self.weight_decay = F32(param.weight_decay)
        self.regularization_type = param.regularization_type
        self.iter_size = int(param.iter_size)
        self.clip_gradients = F32(param.clip_gradients)


# ---- the steps shared by every rule -------------------------------------------------------

def normalize(g, iter_size):
    """Counterbalance iter_size accumulation (Caffe's SGDSolver::Normalize)."""
    if iter_size != 1:
        g *= F32(1.0) / F32(iter_size)


def regularize(w, g, local_decay, regularization_type):
    """Add the weight-decay gradient (Caffe's SGDSolver::Regularize)."""
    if not local_decay:
        return
    xp = backend.get_array_module(g)
    if regularization_type == "L2":
        g += local_decay * w
    else:  # "L1" (validated when the solver is built)
        g += local_decay * xp.sign(w)


def clip_gradients(diffs, clip):
    """Scale all diffs so that their global L2 norm is at most ``clip`` (< 0: off).

    Returns the scale factor applied, or None.  Logs Caffe's line.
    """
    if clip < 0:
        return None
    sumsq = F32(0)
    for g in diffs:
        flat = g.ravel()
        sumsq = F32(sumsq + F32(float(flat.dot(flat))))  # float(): cupy 0-d arrays too
    l2norm = F32(math.sqrt(sumsq)) if math.isfinite(sumsq) else F32(sumsq)
    if l2norm > clip:
        scale = F32(clip / l2norm)
        log.info("Gradient clipping: scaling down gradients (L2 norm %g > %g) by scale factor %g",
                 l2norm, clip, scale)
        for g in diffs:
            g *= scale
        return scale
    return None


# ---- ComputeUpdateValue per rule ----------------------------------------------------------

class UpdateRule:
    """One of Caffe's solver types: its history layout and its ComputeUpdateValue.

    ``compute(g, hist, local_rate, hp, it, tmp)`` turns the gradient ``g`` into the step in
    place and updates ``hist`` (this param's history arrays); ``tmp`` holds ``scratch``
    preallocated arrays shaped like ``g`` (Caffe's update_/temp_), so nothing is allocated.
    """

    name = None
    history_sets = 1   # AdaDelta and Adam keep a second history (Caffe's history_[N + i])
    scratch = 0

    @staticmethod
    def check(param, bad):
        """Reject hyper-parameters Caffe's constructor would CHECK-fail on (raise bad(...))."""

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        raise NotImplementedError


def _xp(a):
    return backend.get_array_module(a)


class SGD(UpdateRule):
    """h = momentum*h + lr*g; step = h."""

    name = "SGD"

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        h = hist[0]
        g *= local_rate
        h *= hp.momentum
        h += g
        g[...] = h


class Nesterov(UpdateRule):
    """h' = momentum*h + lr*g; step = (1+momentum)*h' - momentum*h."""

    name = "Nesterov"
    scratch = 1

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        h, previous = hist[0], tmp[0]
        previous[...] = h
        h *= hp.momentum
        g *= local_rate
        h += g
        _xp(g).multiply(h, F32(1) + hp.momentum, out=g)
        previous *= hp.momentum
        g -= previous


class AdaGrad(UpdateRule):
    """h += g^2; step = lr * g / (sqrt(h) + delta)."""

    name = "AdaGrad"
    scratch = 1

    @staticmethod
    def check(param, bad):
        if param.momentum != 0:
            raise bad("Momentum cannot be used with AdaGrad.", "momentum", 0, param.momentum)

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        xp, h, t = _xp(g), hist[0], tmp[0]
        xp.multiply(g, g, out=t)
        h += t
        xp.sqrt(h, out=t)
        t += hp.delta
        g /= t
        g *= local_rate


class RMSProp(UpdateRule):
    """h = rms_decay*h + (1-rms_decay)*g^2; step = lr * g / (sqrt(h) + delta)."""

    name = "RMSProp"
    scratch = 1

    @staticmethod
    def check(param, bad):
        if param.momentum != 0:
            raise bad("Momentum cannot be used with RMSProp.", "momentum", 0, param.momentum)
        if not 0 <= param.rms_decay < 1:
            raise bad("rms_decay should lie between 0 and 1.", "rms_decay", "0 <= rms_decay < 1",
                      param.rms_decay)

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        xp, h, t = _xp(g), hist[0], tmp[0]
        xp.multiply(g, g, out=t)
        t *= F32(1) - hp.rms_decay
        h *= hp.rms_decay
        h += t
        xp.sqrt(h, out=t)
        t += hp.delta
        g /= t
        g *= local_rate


class AdaDelta(UpdateRule):
    """Zeiler's AdaDelta as Caffe (momentum is the decay; lr usually 1):

    h_g = m*h_g + (1-m)*g^2;  g *= sqrt((h_u + delta) / (h_g + delta));
    h_u = m*h_u + (1-m)*g^2;  step = lr * g.
    """

    name = "AdaDelta"
    history_sets = 2
    scratch = 2

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        xp = _xp(g)
        h_grad, h_update = hist
        t, u = tmp
        m, one_minus_m = hp.momentum, F32(1) - hp.momentum
        xp.multiply(g, g, out=t)
        t *= one_minus_m
        h_grad *= m
        h_grad += t
        xp.add(h_update, hp.delta, out=u)
        xp.add(h_grad, hp.delta, out=t)
        u /= t
        xp.sqrt(u, out=u)
        g *= u
        xp.multiply(g, g, out=t)
        t *= one_minus_m
        h_update *= m
        h_update += t
        g *= local_rate


class Adam(UpdateRule):
    """Kingma & Ba's Adam as Caffe (momentum = beta1, momentum2 = beta2, delta = eps):

    m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
    step = lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps),  t = iter + 1.
    """

    name = "Adam"
    history_sets = 2
    scratch = 1

    @staticmethod
    def check(param, bad):
        if not 0 <= param.momentum < 1:
            raise bad("Adam needs 0 <= momentum (beta1) < 1", "momentum", "0 <= momentum < 1",
                      param.momentum)
        if not 0 <= param.momentum2 < 1:
            raise bad("Adam needs 0 <= momentum2 (beta2) < 1", "momentum2", "0 <= momentum2 < 1",
                      param.momentum2)

    @staticmethod
    def correction(hp, it):
        t = it + 1
        b1, b2 = float(hp.momentum), float(hp.momentum2)
        return F32(math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t))

    @staticmethod
    def compute(g, hist, local_rate, hp, it, tmp):
        xp, (m, v), t = _xp(g), hist, tmp[0]
        b1, b2 = hp.momentum, hp.momentum2
        m *= b1
        xp.multiply(g, F32(1) - b1, out=t)
        m += t
        xp.multiply(g, g, out=t)
        t *= F32(1) - b2
        v *= b2
        v += t
        xp.sqrt(v, out=t)
        t += hp.delta
        xp.divide(m, t, out=g)
        g *= F32(local_rate * Adam.correction(hp, it))


RULES = {rule.name: rule for rule in (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam)}
