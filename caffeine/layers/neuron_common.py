"""Shared machinery for the elementwise neuron layers (ReLU, Sigmoid, ELU, ...).

Each layer writes its formula once, as array expressions on ``xp`` (numpy on the
host, CuPy on the device): the expression *is* the kernel, so the CPU and GPU
paths are the same code (STYLE: "forward_gpu may share the CPU code through xp").

In-place computation (top is bottom) is always allowed.  A layer whose gradient
can be written in terms of its output (Sigmoid, TanH, Exp, ReLU with a
non-negative slope) reads the top data in backward; a layer that needs the
original input (AbsVal, Clip, Log, ...) keeps a copy of the bottom during an
in-place forward, as Caffe's PReLU keeps ``bottom_memory_``.
"""
from caffeine import backend
from caffeine.cuda_layers import neuron_gpu
from caffeine.layers.base import NeuronLayer


class ElementwiseNeuronLayer(NeuronLayer):
    has_gpu_kernel = True

    _bottom_copy = None

    # ---- what a layer defines -----------------------------------------------------------
    def backward_needs_bottom(self):
        """True when backward reads the input x and x cannot be recovered from the output."""
        return False

    def compute_forward(self, xp, x):
        """Return y = f(x)."""
        raise NotImplementedError

    def compute_backward(self, xp, x, y, dy):
        """Return dL/dx given the output y and its gradient dy (x is None unless
        ``backward_needs_bottom()``)."""
        raise NotImplementedError

    # ---- the shared host/device paths -----------------------------------------------------
    def _forward(self, bottom, top, gpu):
        x = bottom[0].data_for(gpu)
        inplace = top[0] is bottom[0]
        self._bottom_copy = x.copy() if inplace and self.backward_needs_bottom() else None
        y = self.compute_forward(backend.get_array_module(x), x)
        top[0].data_for(gpu)[...] = y

    def _backward(self, top, propagate_down, bottom, gpu):
        if not propagate_down[0]:
            return
        y = top[0].data_for(gpu)
        dy = top[0].diff_for(gpu)
        x = None
        if self.backward_needs_bottom():
            x = self._bottom_copy if top[0] is bottom[0] else bottom[0].data_for(gpu)
            if x is None:
                raise self.error("backward called before an in-place forward")
        # the result is computed before it is stored: in place, dy and dx share memory
        bottom[0].diff_for(gpu)[...] = self.compute_backward(backend.get_array_module(y), x, y, dy)

    def forward_cpu(self, bottom, top):
        self._forward(bottom, top, gpu=False)

    def forward_gpu(self, bottom, top):
        neuron_gpu.forward_gpu(self, bottom, top)  # layers_cuda/neuron.cu

    def backward_cpu(self, top, propagate_down, bottom):
        self._backward(top, propagate_down, bottom, gpu=False)

    def backward_gpu(self, top, propagate_down, bottom):
        neuron_gpu.backward_gpu(self, top, propagate_down, bottom)
