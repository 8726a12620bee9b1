"""GPU parity cases for RNN and LSTM (layers_cuda/recurrent.cu + cuBLAS GEMMs): float64,
sequences cut by cont = 0 in the middle and fractional cont, multi-axis inputs, a static
input, expose_hidden with diffs into h_0 / c_0 (also only some of them), a single timestep,
two consecutive forwards carrying the state, and param gradients switched off."""
import numpy as np

from layer_cases import Case, arrays, g

GPU_TYPES = {"RNN", "LSTM"}
W = 'weight_filler { type: "uniform" min: -0.6 max: 0.6 } bias_filler { type: "uniform" min: -0.4 max: 0.4 }'


def cont(*rows):
    """The (T, N) sequence indicators, one row per timestep."""
    return lambda rng: np.array(rows, dtype=np.float64)


def ones(T, N):
    return lambda rng: np.ones((T, N))


def forward_twice(layer):
    """run_case's single forward becomes two: the second starts from the state the first left."""
    once = layer.forward

    def twice(bottom, top):
        once(bottom, top)
        return once(bottom, top)

    layer.forward = twice


def only_recurrent_param_diffs(layer):
    """Only W_hh (RNN) / W_hc (LSTM) wants its diff."""
    index = layer.i_hh if layer.type == "RNN" else layer.i_hc
    layer.param_propagate_down = [i == index for i in range(len(layer.blobs))]


def rec(typ, name, params, bottoms, n_top=1, propagate=None, dtype=np.float32, setup=None):
    text = f'type: "{typ}" recurrent_param {{ {params} {W} }}'
    return Case(f"recurrent_{typ.lower()}_{name}", text, bottoms, n_top=n_top, propagate=propagate, dtype=dtype,
                setup=setup)


CUTS = cont([0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1])   # a new sequence somewhere every step
CUTS_2 = cont([1, 1], [0, 1], [1, 0], [1, 1])
EXPOSED = cont([1, 0.5], [1, 1], [0, 1], [0.25, 1])                   # state from h_0/c_0, fractional cont

CASES = []
for typ, n_state in (("RNN", 1), ("LSTM", 2)):
    hidden = [g(1, 2, 5)] * n_state
    CASES += [
        rec(typ, "cuts_f64", "num_output: 4", arrays(g(5, 3, 2, 3), CUTS), propagate=[True, False],
            dtype=np.float64),
        rec(typ, "cuts_multiaxis", "num_output: 5", arrays(g(5, 3, 2, 3), CUTS), propagate=[True, False]),
        rec(typ, "static", "num_output: 3", arrays(g(5, 3, 4), CUTS, g(3, 2, 3)), propagate=[True, False, True]),
        rec(typ, "static_expose_f64", "num_output: 5 expose_hidden: true",
            arrays(g(4, 2, 3), EXPOSED, g(2, 4), *hidden), n_top=1 + n_state,
            propagate=[True, False, True] + [True] * n_state, dtype=np.float64),
        rec(typ, "expose", "num_output: 5 expose_hidden: true", arrays(g(4, 2, 3), EXPOSED, *hidden),
            n_top=1 + n_state, propagate=[True, False] + [True] * n_state),
        rec(typ, "expose_only_last_state_diff", "num_output: 5 expose_hidden: true",
            arrays(g(4, 2, 3), EXPOSED, *hidden), n_top=1 + n_state,
            propagate=[False, False] + [False] * (n_state - 1) + [True]),
        rec(typ, "t1", "num_output: 6", arrays(g(1, 4, 3), ones(1, 4)), propagate=[True, False]),
        rec(typ, "t1_expose_f64", "num_output: 5 expose_hidden: true", arrays(g(1, 2, 3), ones(1, 2), *hidden),
            n_top=1 + n_state, propagate=[True, False] + [True] * n_state, dtype=np.float64),
        rec(typ, "two_forwards_carry", "num_output: 4", arrays(g(3, 2, 3), ones(3, 2)), propagate=[True, False],
            setup=forward_twice),
        rec(typ, "two_forwards_carry_f64", "num_output: 4", arrays(g(3, 2, 3), cont([1, 1], [0, 1], [1, 1])),
            propagate=[True, False], dtype=np.float64, setup=forward_twice),
        rec(typ, "only_recurrent_param_diff", "num_output: 3", arrays(g(4, 2, 3), CUTS_2),
            propagate=[False, False], setup=only_recurrent_param_diffs),
    ]
