"""GPU parity cases for the index_copy kernels (Embed, BatchReindex, Filter): repeated and
fractional indices, vocabulary / bottom rows never hit, float64, all rows dropped or kept,
several data bottoms, propagate_down subsets."""
import numpy as np

from layer_cases import W, Case, g

GPU_TYPES = {"Embed", "BatchReindex", "Filter"}


def _embed(bias, k=9, n=4):
    return f'type: "Embed" embed_param {{ num_output: {n} input_dim: {k} bias_term: {bias} {W} }}'


def _const(*values):
    return lambda rng: [np.array(v, dtype=np.float64) for v in values]


def _with_data(shapes, *extra):
    return lambda rng: [rng.standard_normal(s) for s in shapes] + [np.array(v, dtype=np.float64) for v in extra]


# indices with repeats; rows 1, 5, 6, 7 of the 9-word vocabulary never hit
_REPEATED = [[0, 3, 3, 8], [2, 3, 0, 4], [8, 8, 3, 2]]
# more top rows than bottom rows, every bottom row but 3 reached, row 1 three times; 2.9 -> 2
_PERMUT = [1, 0, 2.9, 1, 4, 1, 0.5]

CASES = [
    Case("embed_repeated_f64", _embed("true"), _const(_REPEATED), propagate=[False], dtype=np.float64),
    Case("embed_no_bias_repeated", _embed("false"), _const(_REPEATED), propagate=[False]),
    Case("embed_wide_f32", _embed("true", k=3, n=37),
         lambda rng: [rng.integers(0, 3, size=(5, 60)).astype(np.float64)], propagate=[False]),
    Case("batch_reindex_repeated_f64", 'type: "BatchReindex"', _with_data([(5, 2, 3)], _PERMUT),
         propagate=[True, False], dtype=np.float64),
    Case("batch_reindex_repeated", 'type: "BatchReindex"', _with_data([(5, 3)], _PERMUT), propagate=[True, False]),
    Case("batch_reindex_no_backward", 'type: "BatchReindex"', _with_data([(3, 4)], [2, 2, 0]),
         propagate=[False, False]),
    Case("filter_two_bottoms_first_only", 'type: "Filter"',
         _with_data([(6, 3), (6, 2, 2)], [[1], [0], [0], [1], [1], [0]]), n_top=2, propagate=[True, False, False]),
    Case("filter_two_bottoms_f64", 'type: "Filter"', _with_data([(5, 3, 2), (5,)], [0, 2.5, 0, -1, 1]), n_top=2,
         propagate=[True, True, False], dtype=np.float64),
    Case("filter_all_dropped", 'type: "Filter"', _with_data([(4, 3)], [0, 0, 0, 0]), propagate=[True, False]),
    Case("filter_all_kept_f64", 'type: "Filter"', _with_data([(4, 2, 3)], [1, 1, 1, 1]), propagate=[True, False],
         dtype=np.float64),
    Case("filter_single_row", 'type: "Filter"', lambda rng: [g(3, 5)(rng), np.array([0.0, 0, 1])],
         propagate=[True, False]),
]
