"""GPU parity cases for SPP (caffeine/cuda_layers/spp_gpu.py: pooling.cu per pyramid level,
concat.cu into the top).  Non-square inputs whose levels need Caffe's padding (9x11: level 2
pools 3x3 windows with pad (2, 1); 15x21 over four levels), pyramid_height 1 (a 4-D top),
MAX with ties (the first maximum gets the diff), AVE, STOCHASTIC in TEST, float64, no
backward.  The basic case "spp" stays in layer_cases.py; STOCHASTIC in TRAIN samples
differently on the two paths and is checked in test_kernels_host_spp.py."""
import numpy as np

from layer_cases import TEST, Case, arrays, g, positive

GPU_TYPES = {"SPP"}


def ties(*shape):
    """Small integers: many equal maxima in every window."""
    return lambda rng: rng.integers(-2, 2, size=shape).astype(np.float64)


def spp(height, pool):
    return f'type: "SPP" spp_param {{ pyramid_height: {height} pool: {pool} }}'


CASES = [
    Case("spp_max_h3_padded", spp(3, "MAX"), arrays(g(2, 3, 9, 11))),
    Case("spp_ave_h3_padded", spp(3, "AVE"), arrays(g(2, 3, 9, 11))),
    Case("spp_max_h4_15x21", spp(4, "MAX"), arrays(g(2, 2, 15, 21))),
    Case("spp_ave_h4_15x21_f64", spp(4, "AVE"), arrays(g(2, 2, 15, 21)), dtype=np.float64),
    Case("spp_max_ties_7x10", spp(3, "MAX"), arrays(ties(2, 3, 7, 10))),
    Case("spp_max_h1_nonsquare", spp(1, "MAX"), arrays(g(3, 2, 5, 3))),
    Case("spp_ave_h1_f64", spp(1, "AVE"), arrays(g(2, 3, 4, 6)), dtype=np.float64),
    Case("spp_max_h2_f64", spp(2, "MAX"), arrays(g(2, 2, 6, 5)), dtype=np.float64),
    Case("spp_stochastic_test_h3", spp(3, "STOCHASTIC"), arrays(positive(2, 2, 8, 8)), phase=TEST),
    Case("spp_ave_no_backward", spp(2, "AVE"), arrays(g(2, 2, 6, 5)), propagate=[False]),
]
