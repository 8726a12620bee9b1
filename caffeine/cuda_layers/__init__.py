"""GPU paths of the layers: Python glue around the hand-written kernels in ``layers_cuda/``.

One module per kernel family (``pooling_gpu``, ``neuron_gpu``, ...), each with
``forward_gpu(layer, bottom, top)`` / ``backward_gpu(layer, top, propagate_down, bottom)``
functions that read the layer's already-parsed parameters and work on the blobs'
``gpu_data`` / ``gpu_diff`` (CuPy arrays).  The layer classes call them from their
``forward_gpu`` / ``backward_gpu`` methods.  GEMMs go to cuBLAS through ``cupy.matmul``.

Only ``caffeine.backend`` imports CuPy; the modules here get it from
``backend.cupy_or_raise()``.  Everything they need from CuPy is also in numpy, so the same
glue runs under ``caffeine.testing.emulated_gpu`` (numpy arrays standing for device memory
and the kernels built for the host), which is how CI checks it without a GPU.
"""
