"""GPU parity cases for Accuracy and ArgMax (layers_cuda/accuracy.cu, argmax.cu): ties (small
integer scores), top_k > 1, ignore_label (outside and inside the class range, everything
ignored), the per-class top, spatial positions and axis 2, more samples than one count chunk,
ArgMax with and without an axis, out_max_val, top_k equal to the axis, float64."""
import numpy as np

from layer_cases import Case, arrays, g

GPU_TYPES = {"Accuracy", "ArgMax"}
NO_GRAD2, NO_GRAD1 = [False, False], [False]


def ints(*shape, high=3):
    """Small integer scores: many ties, with the true class and among the others."""
    return lambda rng: rng.integers(0, high, size=shape).astype(np.float64)


def labels(*shape, classes, ignore=None, every=3):
    """Labels in [0, classes); with ``ignore``, every ``every``-th one is ignore_label."""
    def make(rng):
        lab = rng.integers(0, classes, size=shape).astype(np.float64)
        if ignore is not None:
            lab.reshape(-1)[::every] = ignore
        return lab
    return make


def acc(name, param, scores, labs, n_top=2, dtype=np.float32):
    return Case(f"accuracy_{name}", f'type: "Accuracy" accuracy_param {{ {param} }}', arrays(scores, labs),
                propagate=NO_GRAD2, n_top=n_top, dtype=dtype)


def argmax(name, param, x, dtype=np.float32):
    return Case(f"argmax_{name}", f'type: "ArgMax" argmax_param {{ {param} }}', arrays(x), propagate=NO_GRAD1,
                dtype=dtype)


CASES = [
    acc("top3_ties_f64", "top_k: 3", ints(9, 5), labels(9, classes=5), dtype=np.float64),
    acc("top1_ties", "top_k: 1", ints(12, 4, high=2), labels(12, classes=4)),
    acc("spatial_nch", "top_k: 2", ints(3, 4, 5), labels(3, 5, classes=4)),
    acc("axis2_nch_f64", "axis: 2 top_k: 2", ints(2, 3, 6), labels(2, 3, classes=6), dtype=np.float64),
    acc("axis_last_one_top", "axis: -1", g(4, 3, 5), labels(4, 3, classes=5), n_top=1),
    acc("ignore_per_class_4d", "top_k: 2 ignore_label: 255", ints(2, 4, 3, 3), labels(2, 3, 3, classes=4,
                                                                                        ignore=255)),
    acc("ignore_inside_range_f64", "ignore_label: 0", ints(10, 3), labels(10, classes=3, ignore=0, every=2),
        dtype=np.float64),
    acc("all_ignored", "ignore_label: -1", g(4, 3), labels(4, classes=3, ignore=-1, every=1)),
    acc("many_samples_chunked", "top_k: 2", ints(3, 4, 200, high=4), labels(3, 200, classes=4, ignore=3,
                                                                                every=7)),
    argmax("ties_topk3_max_val_f64", "top_k: 3 out_max_val: true", ints(4, 2, 3), dtype=np.float64),
    argmax("ties_indices", "top_k: 2", ints(3, 6, high=2)),
    argmax("axis2_nch", "axis: 2 top_k: 2", ints(2, 3, 5)),
    argmax("axis2_nch_max_val_f64", "axis: 2 top_k: 3 out_max_val: true", g(2, 3, 5), dtype=np.float64),
    argmax("axis0_max_val", "axis: 0 top_k: 2 out_max_val: true", ints(3, 4, 2)),
    argmax("axis1_top_k_all", "axis: 1 top_k: 4", ints(2, 4, 3, 2)),
    argmax("no_axis_4d_top_k_all", "top_k: 12", g(2, 3, 2, 2)),
]
