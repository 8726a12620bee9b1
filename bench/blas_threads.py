"""The BLAS thread count of a benchmark, from its ``--threads`` argument.

BLAS reads OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS when numpy loads, so
a benchmark calls :func:`set_blas_threads` before it imports numpy (this module does not).
"""
import os

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_from_argv(argv, default="2"):
    """The value of ``--threads N`` or ``--threads=N`` in argv (a string), else default."""
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return default


def set_blas_threads(argv, override=True):
    """Set the BLAS thread variables to argv's ``--threads``; with override False a variable
    already in the environment is kept."""
    threads = threads_from_argv(argv)
    for var in BLAS_THREAD_VARS:
        if override:
            os.environ[var] = threads
        else:
            os.environ.setdefault(var, threads)
