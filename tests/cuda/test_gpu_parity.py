"""GPU parity: every layer type's forward/backward on the GPU path equals the CPU path.

Each case runs twice per device kind: "emulated" (always: the layers_cuda kernels built for
the host by caffeine.testing.emulated_gpu, the full GPU code path without a GPU) and "cuda"
(``@pytest.mark.gpu``: CuPy on a real device, skipped without one).
"""
import numpy as np
import pytest

from caffeine.layers import layer_types
from layer_cases import CASES, EXTRA_GPU_TYPES, HOST_ONLY_WITHOUT_CASE
from parity_lib import assert_same, check_random, run_case

KINDS = ["emulated", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer_parity(case, kind):
    gpu = run_case(case, kind)
    if gpu["has_gpu_kernel"]:
        assert gpu["ran_gpu_path"], f"{case.type} declares a GPU kernel but ran its host fallback"
    if case.compare == "random":
        check_random(case, gpu)
        return
    cpu = run_case(case, None)
    assert_same(case, cpu, gpu)


def test_every_catalog_type_has_a_case():
    covered = {c.type for c in CASES} | set(HOST_ONLY_WITHOUT_CASE)
    assert covered == set(layer_types())


def test_kernel_layers_declare_gpu():
    """The layer types with hand-written kernels say so in layer_types()."""
    expected = {"Convolution", "Deconvolution", "Im2col", "InnerProduct", "ReLU", "PReLU", "Sigmoid", "TanH",
                "ELU", "BNLL", "AbsVal", "Clip", "Swish", "Threshold", "Power", "Exp", "Log", "Dropout",
                "Softmax", "SoftmaxWithLoss", "BatchNorm", "Concat", "Slice", "Crop", "Tile", "Eltwise",
                "EuclideanLoss", "SigmoidCrossEntropyLoss", "ContrastiveLoss", "HingeLoss", "Pooling", "LRN",
                "Split", "Flatten", "Reshape", "Silence", "Scale", "Bias", "Reduction", "MVN"} | EXTRA_GPU_TYPES
    status = layer_types()
    missing = sorted(t for t in expected if not status[t]["gpu"])
    assert not missing, missing
    assert np.all([status[t]["cpu"] for t in status])
