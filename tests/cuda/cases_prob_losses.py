"""GPU parity cases for InfogainLoss and MultinomialLogisticLoss (layers_cuda/prob_losses.cu):
ignore_label, every normalization, a spatial axis, saturated softmax (the 1e-20 log floor),
zero rows in H, zero probabilities, loss weights other than 1, float64.  The basic cases
"infogain_loss" and "multinomial_logistic_loss" stay in layer_cases.py."""
import numpy as np

from layer_cases import Case

GPU_TYPES = {"InfogainLoss", "MultinomialLogisticLoss"}


def _infogain(shape, classes, labels_shape, ignore=None, zero_row=None, spread=1.0):
    """Scores (times ``spread``), labels (some equal to ``ignore``) and an H >= 0 whose row
    ``zero_row`` is all zeros."""
    def make(rng):
        x = rng.standard_normal(shape) * spread
        labels = rng.integers(0, classes, size=labels_shape).astype(np.float64)
        if ignore is not None:
            labels.reshape(-1)[::3] = ignore
        h = rng.uniform(0, 1, size=(classes, classes)) + np.eye(classes)
        if zero_row is not None:
            h[zero_row] = 0
            labels.reshape(-1)[1] = zero_row
        return [x, labels, h]
    return make


def _mll(shape, label_shape, zero_true=()):
    """Probabilities (rows sum to 1), labels; the true class of the rows ``zero_true`` gets
    probability 0 (clamped to 1e-20 on both paths)."""
    def make(rng):
        num = shape[0]
        p = rng.uniform(0.05, 1, size=shape).reshape(num, -1)
        p /= p.sum(axis=1, keepdims=True)
        labels = rng.integers(0, p.shape[1], size=num)
        for r in zero_true:
            p[r, labels[r]] = 0
        return [p.reshape(shape), labels.reshape(label_shape).astype(np.float64)]
    return make


INFO = [True, False, False]

CASES = [
    Case("infogain_ignore_valid", 'type: "InfogainLoss" loss_param { ignore_label: 2 normalization: VALID }',
         _infogain((7, 4), 4, (7,), ignore=2, zero_row=3), propagate=INFO, top_diff=0.5),
    Case("infogain_ignore_negative_full", 'type: "InfogainLoss" loss_param { ignore_label: -1 normalization: FULL }',
         _infogain((5, 3), 3, (5,), ignore=-1), propagate=INFO, top_diff=2.5),
    Case("infogain_spatial_batch_size_prob_top", 'type: "InfogainLoss" loss_param { normalization: BATCH_SIZE }',
         _infogain((2, 5, 3, 2), 5, (2, 3, 2), zero_row=0), propagate=INFO, top_diff=1.7, n_top=2),
    Case("infogain_axis2_none_f64", 'type: "InfogainLoss" infogain_loss_param { axis: 2 } '
         'loss_param { normalization: NONE ignore_label: 1 }',
         _infogain((2, 3, 4, 2), 4, (2, 3, 2), ignore=1), propagate=INFO, top_diff=0.3, dtype=np.float64),
    Case("infogain_saturated_clamped", 'type: "InfogainLoss"',
         _infogain((6, 5), 5, (6,), spread=80.0), propagate=INFO, top_diff=1.0),
    Case("infogain_saturated_clamped_f64", 'type: "InfogainLoss" loss_param { ignore_label: 0 }',
         _infogain((4, 3, 3), 3, (4, 3), ignore=0, zero_row=2, spread=900.0), propagate=INFO, top_diff=3.0,
         dtype=np.float64),
    Case("infogain_no_backward", 'type: "InfogainLoss"', _infogain((3, 4), 4, (3,)),
         propagate=[False, False, False], top_diff=1.0),
    Case("mll_flattened_weight", 'type: "MultinomialLogisticLoss"',
         _mll((4, 2, 3, 1), (4, 1, 1, 1)), propagate=[True, False], top_diff=2.5),
    Case("mll_zero_prob_clamped", 'type: "MultinomialLogisticLoss"',
         _mll((5, 4), (5,), zero_true=(1, 3)), propagate=[True, False], top_diff=0.25),
    Case("mll_zero_prob_f64", 'type: "MultinomialLogisticLoss"',
         _mll((6, 3, 2), (6,), zero_true=(0,)), propagate=[True, False], top_diff=1.3, dtype=np.float64),
    Case("mll_no_backward", 'type: "MultinomialLogisticLoss"', _mll((3, 5), (3,)), propagate=[False, False],
         top_diff=1.0),
]
