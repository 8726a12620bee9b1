"""Shared parsing, validation, input transform and CPU/GPU plumbing of the recurrent layers (RNN, LSTM).

Caffe's RecurrentLayer unrolls an internal Net over the T timesteps; caffeine runs
the same recurrence directly (vectorized over streams and features, a Python loop
over timesteps only) while keeping Caffe's interface exactly:

bottoms  ``x`` (T, N, ...), ``cont`` (T, N) (0 where a sequence starts), optional
         ``x_static`` (N, ...), then with ``expose_hidden`` the initial recurrent
         state (RNN: ``h_0``; LSTM: ``h_0``, ``c_0``; each (1, N, num_output));
tops     the output (T, N, num_output), then with ``expose_hidden`` the final
         recurrent state (RNN: ``h_T``; LSTM: ``h_T``, ``c_T``).
params   in the order the unrolled net creates them: the input transform
         ``W_x* (G, prod(x.shape[2:]))``, ``b (G,)``, the static transform
         ``W_x*_static (G, prod(x_static.shape[1:]))`` when there is a static input,
         then the per-type recurrent params; G = num_output (RNN) or 4*num_output (LSTM).

Without ``expose_hidden`` the state at the end of one forward is the initial state
of the next (Caffe copies h_T into h_0 before each forward); it starts at zero and
``cont`` = 0 at a sequence start cuts it off.

Where caffeine goes beyond Caffe (documented fixes of Caffe's limitations):
- with ``expose_hidden`` the diffs of the h_T/c_T tops flow back through time and
  the h_0/c_0 bottoms receive their gradient (Caffe shares only the data there, so
  both gradients were silently dropped);
- the number of timesteps may change between forwards (Caffe's unrolled net fixed it);
- when the number of streams changes, the carried state restarts from zero.

One time loop serves both devices (Chainer's way): forward/backward take a
:class:`BlobArrays`, which hands out the blobs' host arrays with numpy as ``xp`` on the
CPU, or their device arrays with CuPy on the GPU.  The GEMMs are ``xp.matmul`` (cuBLAS on
the GPU); each subclass passes the per-timestep elementwise step, a numpy function on the
CPU or a kernel of layers_cuda/recurrent.cu (caffeine.cuda_layers.recurrent_gpu).  The
state carried between forwards lives in Blobs, so it stays on the device on the GPU and
follows a mode switch like any blob.
"""
import logging

import numpy as np

from caffeine import fillers
from caffeine.blob import Blob
from caffeine.cuda_layers.launch import cp, data_ro, diff_ro
from caffeine.errors import ConfigError, ShapeError
from caffeine.layers.base import Layer

log = logging.getLogger("caffeine")


def sigmoid(x):
    # 1 / (1 + exp(-x)) written through tanh: no overflow warning for large |x|
    return 0.5 * np.tanh(0.5 * x) + 0.5


class BlobArrays:
    """The arrays a forward/backward pass works on: host (numpy) or device (CuPy) ones."""

    def __init__(self, gpu):
        self.gpu = gpu
        self.xp = cp() if gpu else np

    def data(self, blob):
        """Data to read (Caffe's cpu_data / gpu_data)."""
        return data_ro(blob) if self.gpu else blob.host_data_readonly

    def diff(self, blob):
        return diff_ro(blob) if self.gpu else blob.host_diff_readonly

    def mutable_data(self, blob):
        """Data to write (Caffe's mutable_cpu_data / mutable_gpu_data)."""
        return blob.gpu_data if self.gpu else blob.data

    def mutable_diff(self, blob):
        return blob.gpu_diff if self.gpu else blob.diff


class RecurrentLayer(Layer):
    """Base of RNN and LSTM: subclasses set the constants below and implement
    ``make_recurrent_params``, ``recurrent_forward`` and ``recurrent_backward``."""

    min_bottom = 2
    min_top = 1
    gate_factor = 1            # G = gate_factor * num_output
    recur_names = ("h",)       # recurrent state blobs: h_0.. bottoms and h_T.. tops
    input_param_names = ("W_x", "b", "W_x_static")

    # ---- setup and shapes ---------------------------------------------------------------------
    def setup(self, bottom, top):
        rp = self.layer_param.recurrent_param
        self.H = int(rp.num_output)
        if self.H <= 0:
            raise self.error("num_output must be positive (set recurrent_param { num_output: ... })",
                             field="num_output", expected="> 0", found=self.H)
        self.G = self.gate_factor * self.H
        self.expose_hidden = bool(rp.expose_hidden)
        self.debug_info = bool(rp.debug_info)
        num_hidden = len(self.recur_names) if self.expose_hidden else 0
        allowed = (2 + num_hidden, 3 + num_hidden)
        if len(bottom) not in allowed:
            names = ["x", "cont", "[x_static]"] + [f"{r}_0" for r in self.recur_names][:num_hidden]
            raise self.error(f"wrong number of bottom blobs: expected {' '.join(names)}"
                             + ("" if self.expose_hidden else " (expose_hidden is false)"),
                             expected=f"{allowed[0]} or {allowed[1]}", found=len(bottom))
        if len(top) != 1 + num_hidden:
            names = ["output"] + [f"{r}_T" for r in self.recur_names][:num_hidden]
            raise self.error(f"wrong number of top blobs: expected {' '.join(names)}",
                             expected=1 + num_hidden, found=len(top))
        self.static_input = len(bottom) == allowed[1]
        self.hidden_offset = 2 + int(self.static_input)
        self._check_sequence_shapes(bottom)
        self.Dx = bottom[0].count(2)
        self.Ds = bottom[2].count(1) if self.static_input else 0
        log.info("Initializing recurrent layer %s: assuming input batch contains %d timesteps of "
                 "%d independent streams.", self.name, bottom[0].shape[0], bottom[0].shape[1])

        base = self.input_param_names
        self.blobs = [self._param(base[0], (self.G, self.Dx), rp.weight_filler),
                      self._param(base[1], (self.G,), rp.bias_filler)]
        if self.static_input:
            self.blobs.append(self._param(base[2], (self.G, self.Ds), rp.weight_filler))
        self.num_input_params = len(self.blobs)
        self.make_recurrent_params(rp)
        self.param_propagate_down = [True] * len(self.blobs)
        self._carry = None   # Blobs of the state carried between forwards (no expose_hidden)
        self._cache = None

    def _param(self, name, shape, filler):
        blob = self.new_blob(*shape, name=name)
        fillers.fill(blob, filler, self.rng)
        return blob

    def make_recurrent_params(self, rp):
        raise NotImplementedError

    def _shape_error(self, message, blob, expected, found):
        return self.error(message, cls=ShapeError, blob=blob.name, expected=expected, found=found)

    def _check_sequence_shapes(self, bottom):
        x, cont = bottom[0], bottom[1]
        if x.num_axes < 2:
            raise self._shape_error("bottom[0] (x) must have at least 2 axes (#timesteps, #streams, ...)",
                                    x, ">= 2 axes", x.shape)
        T, N = x.shape[:2]
        if cont.shape != (T, N):
            raise self._shape_error("bottom[1] (cont) must have shape (#timesteps, #streams) of x",
                                    cont, (T, N), cont.shape)
        if self.static_input:
            xs = bottom[2]
            if xs.num_axes < 1 or xs.shape[0] != N:
                raise self._shape_error("bottom[2] (x_static) must have #streams as its first axis",
                                        xs, f"({N}, ...)", xs.shape)

    def reshape(self, bottom, top):
        self._check_sequence_shapes(bottom)
        T, N = bottom[0].shape[:2]
        if bottom[0].count(2) != self.Dx:
            raise self._shape_error("input size per timestep changed: incompatible with the W_x params",
                                    bottom[0], f"{self.Dx} values per (timestep, stream)",
                                    bottom[0].count(2))
        if self.static_input and bottom[2].count(1) != self.Ds:
            raise self._shape_error("static input size changed: incompatible with the W_x_static param",
                                    bottom[2], f"{self.Ds} values per stream", bottom[2].count(1))
        if self.expose_hidden:
            for j, name in enumerate(self.recur_names):
                b = bottom[self.hidden_offset + j]
                if b.shape != (1, N, self.H):
                    raise self._shape_error(f"bottom[{self.hidden_offset + j}] ({name}_0) must match the "
                                            "hidden state shape (1, #streams, num_output)",
                                            b, (1, N, self.H), b.shape)
        self.T, self.N = T, N
        top[0].reshape(T, N, self.H)
        for j in range(1, len(top)):
            top[j].reshape(1, N, self.H)

    def allow_force_backward(self, bottom_index):
        return bottom_index != 1   # never into the sequence indicators

    def reset(self):
        """Zero the carried recurrent state (Caffe's RecurrentLayer::Reset)."""
        self._carry = None

    # ---- shared pieces of forward/backward (arrays from a BlobArrays ``io``) ----------------------
    def initial_state(self, bottom, io):
        """The recurrent state entering timestep 1, as a list of (N, H) arrays to read."""
        if self.expose_hidden:
            return [io.data(bottom[self.hidden_offset + j]).reshape(self.N, self.H)
                    for j in range(len(self.recur_names))]
        if self._carry is None or self._carry[0].shape != (self.N, self.H) \
                or self._carry[0].dtype != self.dtype:
            self._carry = [Blob(self.N, self.H, dtype=self.dtype, name=f"{self.name}_{r}_carry")
                           for r in self.recur_names]   # zeros on whichever side reads first
        return [io.data(b) for b in self._carry]

    def finish_forward(self, top, final_state, io):
        """Expose h_T (c_T) as tops, or keep them as the next forward's initial state."""
        dest = [io.mutable_data(top[1 + j]) for j in range(len(final_state))] if self.expose_hidden \
            else [io.mutable_data(b) for b in self._carry]
        for d, state in zip(dest, final_state):
            d[...] = state.reshape(d.shape)

    def final_state_diffs(self, top, io):
        """Diffs arriving at h_T (and c_T) from the exposed tops, else zeros (fresh arrays)."""
        if self.expose_hidden:
            return [io.diff(top[1 + j]).reshape(self.N, self.H).copy() for j in range(len(self.recur_names))]
        return [io.xp.zeros((self.N, self.H), dtype=self.dtype) for _ in self.recur_names]

    def input_transform(self, bottom, io):
        """W_x x_t + b (+ W_x_static x_static) for every timestep: (T, N, G) pre-activations."""
        xp = io.xp
        x = io.data(bottom[0]).reshape(self.T * self.N, self.Dx)
        pre = xp.matmul(x, io.data(self.blobs[0]).T)
        pre += io.data(self.blobs[1])
        pre = pre.reshape(self.T, self.N, self.G)
        if self.static_input:
            xs = io.data(bottom[2]).reshape(self.N, self.Ds)
            pre += xp.matmul(xs, io.data(self.blobs[2]).T)   # same contribution at every timestep
        return pre

    def input_backward(self, dpre, propagate_down, bottom, io):
        """Backward of ``input_transform`` given d(loss)/d(pre) of shape (T, N, G)."""
        xp = io.xp
        d2 = dpre.reshape(self.T * self.N, self.G)
        ppd = self.param_propagate_down
        if ppd[0]:
            w_diff = io.mutable_diff(self.blobs[0])
            w_diff += xp.matmul(d2.T, io.data(bottom[0]).reshape(self.T * self.N, self.Dx))
        if ppd[1]:
            b_diff = io.mutable_diff(self.blobs[1])
            b_diff += d2.sum(axis=0)
        if propagate_down[0]:
            xp.matmul(d2, io.data(self.blobs[0]),
                      out=io.mutable_diff(bottom[0]).reshape(self.T * self.N, self.Dx))
        if self.static_input:
            dsum = dpre.sum(axis=0)   # the static term enters every timestep
            if ppd[2]:
                ws_diff = io.mutable_diff(self.blobs[2])
                ws_diff += xp.matmul(dsum.T, io.data(bottom[2]).reshape(self.N, self.Ds))
            if propagate_down[2]:
                xp.matmul(dsum, io.data(self.blobs[2]), out=io.mutable_diff(bottom[2]).reshape(self.N, self.Ds))

    def recurrent_weight_backward(self, index, dpre, cont, h_before, io):
        """W_h's diff += dpre^T (cont h_{t-1}), summed over all timesteps (one GEMM)."""
        if self.param_propagate_down[index]:
            h_conted = (cont[:, :, None] * h_before).reshape(self.T * self.N, self.H)
            w_diff = io.mutable_diff(self.blobs[index])
            w_diff += io.xp.matmul(dpre.reshape(self.T * self.N, self.G).T, h_conted)

    def write_initial_state_diffs(self, diffs, propagate_down, bottom, io):
        if self.expose_hidden:
            for j, d in enumerate(diffs):
                if propagate_down[self.hidden_offset + j]:
                    io.mutable_diff(bottom[self.hidden_offset + j])[...] = d.reshape(1, self.N, self.H)

    def debug_log(self, direction, what, arrays):
        """Caffe's debug_info for the unrolled net: mean |value| of each internal blob.

        On the GPU each value is read back to the host, as Caffe's debug_info does; only with
        ``debug_info: true``."""
        if self.debug_info:
            for t, a in enumerate(arrays, start=1):
                log.info("    [%s] Layer %s, %s_%d: %g", direction, self.name, what, t,
                         float(abs(a).mean()) if a.size else 0.0)

    # ---- the Layer methods -----------------------------------------------------------------------
    def cont(self, bottom, io):
        """The sequence indicators as (T, N), a copy kept for backward."""
        return io.data(bottom[1]).reshape(self.T, self.N).copy()

    def forward_cpu(self, bottom, top):
        self.recurrent_forward(bottom, top, BlobArrays(gpu=False))

    def forward_gpu(self, bottom, top):
        self.recurrent_forward(bottom, top, BlobArrays(gpu=True))

    def backward_cpu(self, top, propagate_down, bottom):
        self._backward(top, propagate_down, bottom, BlobArrays(gpu=False))

    def backward_gpu(self, top, propagate_down, bottom):
        self._backward(top, propagate_down, bottom, BlobArrays(gpu=True))

    def _backward(self, top, propagate_down, bottom, io):
        if propagate_down[1]:
            raise self.error("cannot backpropagate to the sequence indicators (bottom[1], cont)",
                             field="propagate_down")
        if self._cache is None:
            raise ConfigError(f"layer '{self.name}' ({self.type}): backward called before forward")
        if not (any(propagate_down) or any(self.param_propagate_down)):
            return
        cache_gpu, arrays = self._cache
        if cache_gpu != io.gpu:   # the mode changed between forward and backward
            move = io.xp.asarray if io.gpu else cp().asnumpy
            self._cache = (io.gpu, tuple(move(a) for a in arrays))
        self.recurrent_backward(top, propagate_down, bottom, io, *self._cache[1])
