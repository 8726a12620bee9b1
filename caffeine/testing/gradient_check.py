"""Finite-difference gradient checks, as Caffe's GradientChecker.

The objective is ``L = sum_k <top_k, R_k>`` for fixed random ``R_k``; the analytic
gradient comes from one ``backward`` with ``top.diff = R``; the numeric one from
central differences, perturbing one element of a bottom or param blob at a time.
Bottoms are restored before every forward, so in-place layers are checked too.
Random layers (Dropout) see the same random stream on every forward.
"""
import numpy as np

from caffeine import backend


class GradientCheckError(AssertionError):
    pass


class GradientChecker:
    def __init__(self, stepsize=1e-6, threshold=1e-5, seed=1701, kink=0.0, kink_range=-1.0):
        self.stepsize = stepsize
        self.threshold = threshold
        self.seed = seed
        self.kink = kink
        self.kink_range = kink_range

    def _forward(self, layer, bottom, top, originals):
        for b, orig in zip(bottom, originals):
            b.data[...] = orig
        backend.set_random_seed(self.seed)
        layer.forward(bottom, top)
        return [t.data.copy() for t in top]

    def _objective(self, outs, weights):
        return sum(float(np.sum(o.astype(np.float64) * w)) for o, w in zip(outs, weights))

    def check(self, layer, bottom, top, check_bottom=None, check_params=True, top_ids=None):
        """Check d(objective)/d(bottom and params).  ``check_bottom``: indices (default all)."""
        if not layer._is_setup:
            layer.layer_setup(bottom, top)
        check_bottom = list(range(len(bottom))) if check_bottom is None else list(check_bottom)
        top_ids = list(range(len(top))) if top_ids is None else list(top_ids)
        gen = np.random.default_rng(self.seed + 1)
        originals = [b.data.copy() for b in bottom]
        outs = self._forward(layer, bottom, top, originals)
        weights = [gen.standard_normal(o.shape) if i in top_ids else np.zeros(o.shape)
                   for i, o in enumerate(outs)]

        # analytic: one forward + backward with top.diff = R
        self._forward(layer, bottom, top, originals)
        for t, w in zip(top, weights):
            t.diff[...] = w
        for p in layer.blobs:
            p.diff[...] = 0
        propagate = [i in check_bottom for i in range(len(bottom))]
        layer.backward(top, propagate, bottom)
        analytic = {("bottom", i): bottom[i].diff.copy() for i in check_bottom}
        if check_params:
            for j, p in enumerate(layer.blobs):
                analytic[("param", j)] = p.diff.copy()

        failures = []
        for (kind, idx), grad in analytic.items():
            if kind == "bottom":
                values = originals[idx]
            else:
                values = layer.blobs[idx].data
            flat = values.reshape(-1)
            for e in range(flat.size):
                x0 = flat[e]
                if self.kink_range > 0 and abs(x0 - self.kink) <= self.kink_range:
                    continue
                flat[e] = x0 + self.stepsize
                plus = self._objective(self._forward(layer, bottom, top, originals), weights)
                flat[e] = x0 - self.stepsize
                minus = self._objective(self._forward(layer, bottom, top, originals), weights)
                flat[e] = x0
                numeric = (plus - minus) / (2 * self.stepsize)
                a = float(grad.reshape(-1)[e])
                scale = max(abs(a), abs(numeric), 1.0)
                if abs(a - numeric) > self.threshold * scale:
                    failures.append(f"{kind} {idx} element {e}: analytic {a:.8g} numeric {numeric:.8g}")
        self._forward(layer, bottom, top, originals)
        if failures:
            raise GradientCheckError(f"{layer.type} '{layer.name}': {len(failures)} gradient mismatches:\n  "
                                     + "\n  ".join(failures[:20]))
        return True


def check_gradient(layer, bottom, top, **kw):
    """Convenience: ``check_gradient(layer, bottom, top, check_bottom=[0], stepsize=..)``."""
    opts = {k: kw.pop(k) for k in ("stepsize", "threshold", "seed", "kink", "kink_range") if k in kw}
    return GradientChecker(**opts).check(layer, bottom, top, **kw)
