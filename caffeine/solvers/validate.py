"""Reject a bad solver.prototxt before any net is built.

Caffe CHECK-failed (or silently misbehaved) on these; caffeine raises a
:class:`SolverError` naming the solver file, the line of the field when the file
has one, the field, what was expected and what was found.
"""
import difflib
import os
import re

from caffeine.errors import SolverError
from caffeine.solvers import lr_policies

TRAIN_NET_FIELDS = ("net", "net_param", "train_net", "train_net_param")


def line_finder(source):
    """``field -> line number`` of the first ``field:`` / ``field {`` in a solver file."""
    lines = []
    if source and os.path.isfile(source):
        try:
            with open(source, encoding="utf-8", errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []

    def line_of(field):
        pattern = re.compile(r"^\s*" + re.escape(field) + r"\s*[:{]")
        for number, text in enumerate(lines, 1):
            if pattern.match(text.split("#", 1)[0]):
                return number
        return None

    return line_of


def suggest_type(name, known):
    """The registered solver type closest to ``name`` (case-insensitive first)."""
    lowered = {k.lower(): k for k in known}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    return close[0] if close else None


def unknown_type_error(name, known, source=None, line_of=None):
    hint = suggest_type(name, known)
    msg = f"unknown solver type '{name}'"
    if hint:
        msg += f"; did you mean '{hint}'?"
    line = line_of("type") if line_of else None
    return SolverError(msg, file=source, line=line, field="type",
                       expected=" | ".join(known), found=name)


def validate(param, rule, source=None, line_of=None):
    """Check a (upgraded) SolverParameter for the update rule ``rule``; raise SolverError."""
    line_of = line_of or (lambda field: None)

    def bad(message, field, expected, found):
        return SolverError(message, file=source, line=line_of(field), field=field,
                           expected=expected, found=found)

    given = [f for f in TRAIN_NET_FIELDS if param.HasField(f)]
    if not given:
        raise bad("the solver names no train net", "net", "one of " + ", ".join(TRAIN_NET_FIELDS),
                  "none")
    if len(given) > 1:
        raise bad("the solver names more than one train net", given[1],
                  "exactly one of " + ", ".join(TRAIN_NET_FIELDS), ", ".join(given))
    if param.base_lr < 0:
        raise bad("base_lr must not be negative", "base_lr", ">= 0", param.base_lr)
    if param.max_iter < 0:
        raise bad("max_iter must not be negative", "max_iter", ">= 0", param.max_iter)
    for field, low in (("iter_size", 1), ("average_loss", 1), ("display", 0), ("snapshot", 0),
                       ("test_interval", 0)):
        value = getattr(param, field)
        if value < low:
            raise bad(f"{field} must be at least {low}", field, f">= {low}", value)
    if param.weight_decay < 0:
        raise bad("weight_decay must not be negative", "weight_decay", ">= 0", param.weight_decay)
    if param.regularization_type not in ("L1", "L2"):
        raise bad(f"unknown regularization_type '{param.regularization_type}'",
                  "regularization_type", "L1 | L2", param.regularization_type)
    if param.momentum < 0:
        raise bad("momentum must not be negative", "momentum", ">= 0", param.momentum)
    if param.delta < 0:
        raise bad("delta must not be negative", "delta", ">= 0", param.delta)
    lr_policies.validate(param, source, line_of)
    rule.check(param, bad)
    _validate_test_nets(param, bad)


def count_test_nets(param):
    """Caffe's InitTestNets arithmetic: the number of test net instances."""
    generic = param.HasField("net") or param.HasField("net_param")
    specific = len(param.test_net) + len(param.test_net_param)
    return specific + (len(param.test_iter) - specific if generic else 0)


def _validate_test_nets(param, bad):
    generic = param.HasField("net") or param.HasField("net_param")
    specific = len(param.test_net) + len(param.test_net_param)
    n_iter = len(param.test_iter)
    if generic and n_iter < specific:
        raise bad("test_iter must be given for each test net", "test_iter",
                  f">= {specific} test_iter values", n_iter)
    if not generic and n_iter != specific:
        raise bad("test_iter must be given once for each test net (test_net / test_net_param)",
                  "test_iter", f"{specific} test_iter value(s)", n_iter)
    instances = count_test_nets(param)
    if len(param.test_state) and len(param.test_state) != instances:
        raise bad("test_state must be unspecified or given once per test net", "test_state",
                  instances, len(param.test_state))
    if instances and param.test_interval <= 0:
        raise bad("test nets need a positive test_interval", "test_interval", "> 0",
                  param.test_interval)
    for value in param.test_iter:
        if value <= 0:
            raise bad("test_iter values must be positive", "test_iter", "> 0", value)
