"""Learning-rate policies against Caffe's GetLearningRate formulas, written out here."""
import math

import numpy as np
import pytest
from google.protobuf import text_format

from caffeine.errors import SolverError
from caffeine.proto import caffe_pb2
from caffeine.solvers import lr_policies


def solver_param(text):
    return text_format.Parse(text, caffe_pb2.SolverParameter())


def f32(x):
    return float(np.float32(x))


def expected_rates(policy, p, iters):
    """Caffe's formulas (sgd_solver.cpp), iteration by iteration, with multistep's step state."""
    base, gamma, power = f32(p.base_lr), f32(p.gamma), f32(p.power)
    rates, step = [], 0
    for it in iters:
        if policy == "fixed":
            r = base
        elif policy == "step":
            r = base * gamma ** (it // p.stepsize)
        elif policy == "exp":
            r = base * gamma ** it
        elif policy == "inv":
            r = base * (1 + gamma * it) ** (-power)
        elif policy == "multistep":
            if step < len(p.stepvalue) and it >= p.stepvalue[step]:
                step += 1
            r = base * gamma ** step
        elif policy == "poly":
            r = base * (1 - it / p.max_iter) ** power
        elif policy == "sigmoid":
            r = base / (1 + math.exp(-gamma * (it - p.stepsize)))
        rates.append(r)
    return rates


PARAMS = {
    "fixed": 'lr_policy: "fixed" base_lr: 0.01',
    "step": 'lr_policy: "step" base_lr: 0.01 gamma: 0.1 stepsize: 3',
    "exp": 'lr_policy: "exp" base_lr: 0.01 gamma: 0.95',
    "inv": 'lr_policy: "inv" base_lr: 0.01 gamma: 0.0001 power: 0.75',
    "multistep": 'lr_policy: "multistep" base_lr: 0.01 gamma: 0.5 stepvalue: 2 stepvalue: 5 stepvalue: 6',
    "poly": 'lr_policy: "poly" base_lr: 0.01 power: 2 max_iter: 10',
    "sigmoid": 'lr_policy: "sigmoid" base_lr: 0.01 gamma: -0.5 stepsize: 4',
}


@pytest.mark.parametrize("policy", sorted(PARAMS))
def test_rate_sequence_matches_caffe_formula(policy):
    p = solver_param(PARAMS[policy])
    lr_policies.validate(p)
    iters = list(range(10))
    want = expected_rates(policy, p, iters)
    step = 0
    for it, expected in zip(iters, want):
        rate, step = lr_policies.learning_rate(p, it, step)
        assert rate == pytest.approx(expected, rel=1e-6), (policy, it)
        assert np.float32(rate) == rate  # Caffe's Dtype: a float32 value


def test_multistep_advances_one_step_per_call_and_logs(caplog):
    p = solver_param(PARAMS["multistep"])
    caplog.set_level("INFO", logger="caffeine")
    # resuming at iteration 7 with current_step 0: Caffe catches up one step per iteration
    r7, s = lr_policies.learning_rate(p, 7, 0)
    assert s == 1 and r7 == pytest.approx(0.005)
    r8, s = lr_policies.learning_rate(p, 8, s)
    assert s == 2 and r8 == pytest.approx(0.0025)
    assert "MultiStep Status: Iteration 7, step = 1" in caplog.text


def test_step_sets_current_step():
    p = solver_param(PARAMS["step"])
    assert lr_policies.learning_rate(p, 7, 0)[1] == 2


def test_huge_exponent_gives_inf_not_an_exception():
    p = solver_param('lr_policy: "exp" base_lr: 1 gamma: 10')
    rate, _ = lr_policies.learning_rate(p, 400, 0)
    assert rate == float("inf")


@pytest.mark.parametrize("text, field, match", [
    ('base_lr: 0.1', "lr_policy", "lr_policy is not set"),
    ('lr_policy: "stepp" base_lr: 0.1', "lr_policy", "did you mean 'step'"),
    ('lr_policy: "Fixed" base_lr: 0.1', "lr_policy", "did you mean 'fixed'"),
    ('lr_policy: "step" base_lr: 0.1 gamma: 0.1', "stepsize", "positive stepsize"),
    ('lr_policy: "step" base_lr: 0.1 gamma: 0.1 stepsize: -2', "stepsize", "positive stepsize"),
    ('lr_policy: "inv" base_lr: 0.1 gamma: -0.1 power: 1', "gamma", "non-negative gamma"),
    ('lr_policy: "exp" base_lr: 0.1 gamma: -0.1', "gamma", "non-negative gamma"),
    ('lr_policy: "poly" base_lr: 0.1 power: 1', "max_iter", "positive max_iter"),
    ('lr_policy: "multistep" base_lr: 0.1 gamma: 0.1 stepvalue: 5 stepvalue: 3', "stepvalue",
     "increasing"),
])
def test_bad_policy_parameters_are_rejected(text, field, match):
    with pytest.raises(SolverError, match=match) as info:
        lr_policies.validate(solver_param(text), source="s.prototxt")
    assert info.value.field == field
    assert info.value.file == "s.prototxt"
