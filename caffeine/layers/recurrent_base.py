"""Shared parsing, validation and input transform of the recurrent layers (RNN, LSTM).

Caffe's RecurrentLayer unrolls an internal Net over the T timesteps; caffeine runs
the same recurrence directly in numpy (vectorized over streams and features, a
Python loop over timesteps only) while keeping Caffe's interface exactly:

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
"""
import logging

import numpy as np

from caffeine import fillers
from caffeine.errors import ConfigError, ShapeError
from caffeine.layers.base import Layer

log = logging.getLogger("caffeine")


def sigmoid(x):
    # 1 / (1 + exp(-x)) written through tanh: no overflow warning for large |x|
    return 0.5 * np.tanh(0.5 * x) + 0.5


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
        self._carry = None   # state carried between forwards (no expose_hidden)
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

    # ---- shared pieces of forward/backward -------------------------------------------------------
    def initial_state(self, bottom):
        """The recurrent state entering timestep 1, as a list of (N, H) arrays."""
        if self.expose_hidden:
            return [bottom[self.hidden_offset + j].data.reshape(self.N, self.H)
                    for j in range(len(self.recur_names))]
        if self._carry is None or self._carry[0].shape != (self.N, self.H) \
                or self._carry[0].dtype != self.dtype:
            self._carry = [np.zeros((self.N, self.H), dtype=self.dtype) for _ in self.recur_names]
        return self._carry

    def finish_forward(self, top, final_state):
        if self.expose_hidden:
            for j, state in enumerate(final_state):
                top[1 + j].data[...] = state.reshape(1, self.N, self.H)
        else:
            self._carry = [s.copy() for s in final_state]

    def final_state_diffs(self, top):
        """Diffs arriving at h_T (and c_T) from the exposed tops, else zeros."""
        if self.expose_hidden:
            return [top[1 + j].diff.reshape(self.N, self.H).copy() for j in range(len(self.recur_names))]
        return [np.zeros((self.N, self.H), dtype=self.dtype) for _ in self.recur_names]

    def input_transform(self, bottom):
        """W_x x_t + b (+ W_x_static x_static) for every timestep: (T, N, G) pre-activations."""
        x = bottom[0].data.reshape(self.T * self.N, self.Dx)
        pre = (x @ self.blobs[0].data.T + self.blobs[1].data).reshape(self.T, self.N, self.G)
        if self.static_input:
            xs = bottom[2].data.reshape(self.N, self.Ds)
            pre += xs @ self.blobs[2].data.T   # same contribution at every timestep
        return pre

    def input_backward(self, dpre, propagate_down, bottom):
        """Backward of ``input_transform`` given d(loss)/d(pre) of shape (T, N, G)."""
        d2 = dpre.reshape(self.T * self.N, self.G)
        ppd = self.param_propagate_down
        if ppd[0]:
            self.blobs[0].diff += d2.T @ bottom[0].data.reshape(self.T * self.N, self.Dx)
        if ppd[1]:
            self.blobs[1].diff += d2.sum(axis=0)
        if propagate_down[0]:
            np.matmul(d2, self.blobs[0].data, out=bottom[0].diff.reshape(self.T * self.N, self.Dx))
        if self.static_input:
            dsum = dpre.sum(axis=0)   # the static term enters every timestep
            if ppd[2]:
                self.blobs[2].diff += dsum.T @ bottom[2].data.reshape(self.N, self.Ds)
            if propagate_down[2]:
                np.matmul(dsum, self.blobs[2].data, out=bottom[2].diff.reshape(self.N, self.Ds))

    def write_initial_state_diffs(self, diffs, propagate_down, bottom):
        if self.expose_hidden:
            for j, d in enumerate(diffs):
                if propagate_down[self.hidden_offset + j]:
                    bottom[self.hidden_offset + j].diff[...] = d.reshape(1, self.N, self.H)

    def debug_log(self, direction, what, arrays):
        """Caffe's debug_info for the unrolled net: mean |value| of each internal blob."""
        if self.debug_info:
            for t, a in enumerate(arrays, start=1):
                log.info("    [%s] Layer %s, %s_%d: %g", direction, self.name, what, t,
                         float(np.abs(a).mean()) if a.size else 0.0)

    # ---- the Layer methods -----------------------------------------------------------------------
    def cont(self, bottom):
        return bottom[1].data.reshape(self.T, self.N, 1)

    def forward_cpu(self, bottom, top):
        self.recurrent_forward(bottom, top)

    def backward_cpu(self, top, propagate_down, bottom):
        if propagate_down[1]:
            raise self.error("cannot backpropagate to the sequence indicators (bottom[1], cont)",
                             field="propagate_down")
        if self._cache is None:
            raise ConfigError(f"layer '{self.name}' ({self.type}): backward called before forward")
        if not (any(propagate_down) or any(self.param_propagate_down)):
            return
        self.recurrent_backward(top, propagate_down, bottom)
