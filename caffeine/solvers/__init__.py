"""Caffe's solvers: SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam.

``get_solver('solver.prototxt')`` picks the class from the solver's ``type`` (or the
legacy ``solver_type`` enum, upgraded on load); the classes can also be used
directly, as in pycaffe (``caffeine.AdamSolver('solver.prototxt')``), in which case
the class decides the rule.
"""
from caffeine.solvers import updates
from caffeine.solvers.solver import Solver, load_solver_param
from caffeine.solvers.validate import line_finder, unknown_type_error


class SGDSolver(Solver):
    type, rule = "SGD", updates.SGD


class NesterovSolver(Solver):
    type, rule = "Nesterov", updates.Nesterov


class AdaGradSolver(Solver):
    type, rule = "AdaGrad", updates.AdaGrad


class RMSPropSolver(Solver):
    type, rule = "RMSProp", updates.RMSProp


class AdaDeltaSolver(Solver):
    type, rule = "AdaDelta", updates.AdaDelta


class AdamSolver(Solver):
    type, rule = "Adam", updates.Adam


SOLVERS = {cls.type: cls for cls in (SGDSolver, NesterovSolver, AdaGradSolver, RMSPropSolver,
                                     AdaDeltaSolver, AdamSolver)}


def get_solver(param, source=None):
    """Build the solver named by ``type`` in a solver prototxt path or SolverParameter."""
    param, source = load_solver_param(param, source)
    cls = SOLVERS.get(param.type)
    if cls is None:
        raise unknown_type_error(param.type, list(SOLVERS), source, line_finder(source))
    return cls(param, source=source)


__all__ = ["Solver", "SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver",
           "AdaDeltaSolver", "AdamSolver", "SOLVERS", "get_solver"]
