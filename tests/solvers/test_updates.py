"""Every rule x lr policy x regularization x clipping x iter_size against Caffe's formulas.

The oracle below is a numpy transcription of Caffe's SGDSolver::ApplyUpdate
(ClipGradients, Normalize, Regularize, <rule>::ComputeUpdateValue, Net::Update) and
of the tiny net's gradient (InnerProduct + EuclideanLoss), in float32.  It sees only
the data batches the net drew; it never calls caffeine's update code.
"""
import math

import numpy as np
import pytest

from caffeine.solvers import SOLVERS, get_solver
from solver_testlib import RULE_SETTINGS, solver_param

F = np.float32

POLICIES = {
    "fixed": 'lr_policy: "fixed"',
    "step": 'lr_policy: "step" gamma: 0.5 stepsize: 2',
    "exp": 'lr_policy: "exp" gamma: 0.9',
    "inv": 'lr_policy: "inv" gamma: 0.1 power: 0.75',
    "multistep": 'lr_policy: "multistep" gamma: 0.5 stepvalue: 1 stepvalue: 3',
    "poly": 'lr_policy: "poly" power: 2',
    "sigmoid": 'lr_policy: "sigmoid" gamma: -0.5 stepsize: 2',
}
ITERS = 5
MAX_ITER = 8
LR_MULT = (F(1), F(2))          # ip weight, ip bias (TINY_NET's param specs)
DECAY_MULT = (F(1), F(0.5))


def caffe_rate(p, it, step):
    """GetLearningRate (sgd_solver.cpp), returning (rate, current_step)."""
    base, gamma, power = float(F(p.base_lr)), float(F(p.gamma)), float(F(p.power))
    policy = p.lr_policy
    if policy == "fixed":
        r = base
    elif policy == "step":
        step = it // p.stepsize
        r = base * gamma ** step
    elif policy == "exp":
        r = base * gamma ** it
    elif policy == "inv":
        r = base * (1 + gamma * it) ** -power
    elif policy == "multistep":
        if step < len(p.stepvalue) and it >= p.stepvalue[step]:
            step += 1
        r = base * gamma ** step
    elif policy == "poly":
        r = base * (1 - it / p.max_iter) ** power
    else:
        r = base / (1 + math.exp(-gamma * (it - p.stepsize)))
    return F(r), step


def net_gradient(W, b, batches):
    """Sum over the iter_size passes of d(loss)/dW, d(loss)/db for InnerProduct+EuclideanLoss."""
    gW, gb = np.zeros_like(W), np.zeros_like(b)
    for x, y in batches:
        n = F(x.shape[0])
        r = (x @ W.T + b - y) / n           # EuclideanLoss: loss = sum(r^2) / 2N
        gW += r.T @ x
        gb += r.sum(axis=0)
    return [gW, gb]


def compute_update_value(rule, g, h, local_rate, p, it):
    """<rule>Solver::ComputeUpdateValue: returns the step; updates the history list h."""
    m, m2, delta, decay = F(p.momentum), F(p.momentum2), F(p.delta), F(p.rms_decay)
    one = F(1)
    if rule == "SGD":
        h[0] = m * h[0] + local_rate * g
        return h[0].copy()
    if rule == "Nesterov":
        previous = h[0].copy()
        h[0] = m * h[0] + local_rate * g
        return (one + m) * h[0] - m * previous
    if rule == "AdaGrad":
        h[0] = h[0] + g * g
        return local_rate * (g / (np.sqrt(h[0]) + delta))
    if rule == "RMSProp":
        h[0] = decay * h[0] + (one - decay) * g * g
        return local_rate * (g / (np.sqrt(h[0]) + delta))
    if rule == "AdaDelta":
        h[0] = m * h[0] + (one - m) * g * g
        u = g * np.sqrt((h[1] + delta) / (h[0] + delta))
        h[1] = m * h[1] + (one - m) * u * u
        return local_rate * u
    if rule == "Adam":
        t = it + 1
        correction = F(math.sqrt(1 - float(m2) ** t) / (1 - float(m) ** t))
        h[0] = m * h[0] + (one - m) * g
        h[1] = m2 * h[1] + (one - m2) * g * g
        return (local_rate * correction) * (h[0] / (np.sqrt(h[1]) + delta))
    raise AssertionError(rule)


class Oracle:
    def __init__(self, rule, p, params):
        self.rule, self.p = rule, p
        self.params = [a.copy() for a in params]
        sets = 2 if rule in ("AdaDelta", "Adam") else 1
        self.hist = [[np.zeros_like(a) for _ in range(sets)] for a in self.params]
        self.step = 0
        self.clipped = 0

    def iterate(self, it, batches):
        p = self.p
        grads = net_gradient(*self.params, batches)
        rate, self.step = caffe_rate(p, it, self.step)
        if p.clip_gradients >= 0:
            norm = F(math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads)))
            if norm > F(p.clip_gradients):
                self.clipped += 1
                grads = [g * F(F(p.clip_gradients) / norm) for g in grads]
        for i, (w, g) in enumerate(zip(self.params, grads)):
            g = g * (F(1) / F(p.iter_size))
            local_decay = F(p.weight_decay) * DECAY_MULT[i]
            if p.regularization_type == "L2":
                g = g + local_decay * w
            else:
                g = g + local_decay * np.sign(w)
            step = compute_update_value(self.rule, g, self.hist[i], rate * LR_MULT[i], p, it)
            self.params[i] = w - step


def assert_close(got, want, what, rtol=1e-6):
    """|got - want| <= rtol * max|want| elementwise (relative to the param's scale)."""
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    scale = float(np.max(np.abs(want)))
    assert err <= rtol * scale, f"{what}: max error {err:.3g} > {rtol:g} * {scale:.3g}"


def record_batches(net):
    """Wrap net.forward_backward to keep every (x, y) batch the DummyData layer produced."""
    batches = []
    original = net.forward_backward

    def forward_backward():
        loss = original()
        batches.append((net.blobs["x"].data.copy(), net.blobs["y"].data.copy()))
        return loss

    net.forward_backward = forward_backward
    return batches


def make_param(rule, policy, reg, clip, iter_size):
    return solver_param(f"""
        type: "{rule}" {RULE_SETTINGS[rule]} {POLICIES[policy]}
        weight_decay: 0.05 regularization_type: "{reg}"
        clip_gradients: {0.4 if clip else -1} iter_size: {iter_size}
        max_iter: {MAX_ITER} random_seed: 7 snapshot_after_train: false""")


@pytest.mark.parametrize("iter_size", [1, 3])
@pytest.mark.parametrize("clip", [False, True], ids=["noclip", "clip"])
@pytest.mark.parametrize("reg", ["L2", "L1"])
@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("rule", sorted(SOLVERS))
def test_parameters_follow_caffe_formulas(rule, policy, reg, clip, iter_size):
    p = make_param(rule, policy, reg, clip, iter_size)
    solver = get_solver(p)
    assert type(solver).__name__ == f"{rule}Solver"
    ip = solver.net.params["ip"]
    oracle = Oracle(rule, p, [ip[0].data, ip[1].data])
    batches = record_batches(solver.net)
    for it in range(ITERS):
        solver.step(1)
        assert len(batches) == iter_size * (it + 1)
        before = oracle.params[0].copy()
        oracle.iterate(it, batches[-iter_size:])
        for got, want in zip((ip[0].data, ip[1].data), oracle.params):
            assert_close(got, want, f"iteration {it}")
        assert not np.array_equal(before, oracle.params[0])   # the step did something
    assert solver.iter == ITERS
    assert (oracle.clipped > 0) == clip
    # history is what Caffe would save: N blobs (2N for AdaDelta/Adam) in param order
    assert len(solver.history) == 2 * len(oracle.hist[0])
    for i, hs in enumerate(oracle.hist):
        for s, h in enumerate(hs):
            assert_close(solver.history[s * 2 + i].data, h, f"history {s}/{i}", rtol=1e-5)


def test_clipping_logs_caffes_line(caplog):
    caplog.set_level("INFO", logger="caffeine")
    solver = get_solver(make_param("SGD", "fixed", "L2", True, 1))
    solver.param.clip_gradients = 1e-3
    solver.hp.clip_gradients = F(1e-3)
    solver.step(1)
    assert "Gradient clipping: scaling down gradients (L2 norm " in caplog.text
    assert "> 0.001) by scale factor " in caplog.text


def test_zero_multipliers_freeze_a_param():
    p = make_param("SGD", "fixed", "L2", False, 1)
    ip = p.net_param.layer[1]
    ip.param[0].lr_mult = 0
    ip.param[0].decay_mult = 0
    solver = get_solver(p)
    w = solver.net.params["ip"][0].data.copy()
    b = solver.net.params["ip"][1].data.copy()
    solver.step(3)
    np.testing.assert_array_equal(solver.net.params["ip"][0].data, w)
    assert not np.array_equal(solver.net.params["ip"][1].data, b)
