"""The training loop, as Caffe's ``Solver`` + ``SGDSolver`` (Step, Solve, Test, Snapshot, Restore).

A subclass picks the update rule (``caffeine/solvers/updates.py``); everything else —
train/test nets, lr policy, iter_size, clipping, regularization, display, testing,
snapshots, signals, divergence — is here, with Caffe's log lines.
"""
import logging
import os
import time

import numpy as np
from google.protobuf import text_format

from caffeine import backend
from caffeine.blob import Blob
from caffeine.errors import WeightsError
from caffeine.paths import resolve_path
from caffeine.proto import caffe_pb2
from caffeine.proto import io as proto_io
from caffeine.proto.upgrade import upgrade_solver
from caffeine.solvers import divergence, lr_policies, snapshot as snap, updates
from caffeine.solvers.evaluate import TestNetsMixin
from caffeine.solvers.scaffolding import ScaffoldingMixin
from caffeine.solvers.signals import NONE, SNAPSHOT, STOP
from caffeine.solvers.validate import line_finder, validate

log = logging.getLogger("caffeine")
F32 = np.float32


class _Callback:
    def __init__(self, on_start, on_gradients_ready):
        self.on_start = on_start or (lambda: None)
        self.on_gradients_ready = on_gradients_ready or (lambda: None)


def load_solver_param(param, source=None):
    """(SolverParameter, source path): a solver prototxt path is read (and upgraded) from
    disk; a SolverParameter is upgraded on a copy, leaving the caller's message as it was."""
    if isinstance(param, (str, os.PathLike)):
        source = os.fspath(param)
        return proto_io.read_solver_param(source), source
    copy = caffe_pb2.SolverParameter()
    copy.CopyFrom(param)
    return upgrade_solver(copy, source), source


class Solver(ScaffoldingMixin, TestNetsMixin):
    """``SGDSolver('solver.prototxt')`` (pycaffe) or ``Solver(SolverParameter)``."""

    type = None   # "SGD", ... (set by subclasses)
    rule = None   # updates.UpdateRule subclass

    def __init__(self, param, source=None):
        from caffeine.net import Net  # noqa: PLC0415 - net imports layers lazily
        self._Net = Net
        param, source = load_solver_param(param, source)
        self.source = source
        self.source_dir = os.path.dirname(os.path.abspath(source)) if source else None
        self.param = param
        self._default_snapshot_prefix()
        validate(param, self.rule, source, line_finder(source))
        self._check_snapshot_prefix(line_finder(source))
        log.info("Initializing solver from parameters: \n%s", text_format.MessageToString(param))
        if param.random_seed >= 0:
            backend.set_random_seed(param.random_seed)
        self.hp = updates.Hyper(param)
        self.net = self._init_train_net()
        self.test_nets = self._init_test_nets()
        log.info("Solver scaffolding done.")
        self.iter = 0
        self.current_step = 0
        self.learning_rate = 0.0
        self.smoothed_loss = 0.0
        self._losses = []
        self.callbacks = []
        self.requested_early_exit = False
        self.check_divergence = True
        self.iteration_start_extra = None
        self.test_results = [dict() for _ in self.test_nets]
        self.last_snapshot = None
        self.train_seconds = 0.0
        self.trained_iterations = 0
        self._action_function = None
        self._backup = divergence.Backup()
        self._scratch = {}
        # Caffe's PreSolve: history_ (twice for AdaDelta/Adam), zero-initialized
        self.history = [Blob(p.shape, dtype=p.dtype, name=f"history/{i}")
                        for _ in range(self.rule.history_sets)
                        for i, p in enumerate(self.net.learnable_params)]

    # ---- pycaffe API -----------------------------------------------------------------------------
    def add_callback(self, on_start, on_gradients_ready=None):
        """pycaffe's ``solver.add_callback(on_start, on_gradients_ready)``; an object with those
        two methods is accepted too."""
        if on_gradients_ready is None and hasattr(on_start, "on_start"):
            self.callbacks.append(on_start)
        else:
            self.callbacks.append(_Callback(on_start, on_gradients_ready))

    def copy_weights(self, weights):
        """Fine-tune: copy layers from .caffemodel(s) (comma-separated) into the train and
        test nets (Caffe's CopyLayers in tools/caffe.cpp)."""
        for path in str(weights).split(","):
            path = resolve_path(path.strip(), self.source_dir)
            for net in [self.net] + self.test_nets:
                snap.load_weights(net, path)

    def set_action_function(self, function):
        """Caffe's SetActionFunction: ``function() -> "none" | "stop" | "snapshot"``."""
        self._action_function = function

    def get_requested_action(self):
        return self._action_function() if self._action_function else NONE

    # ---- training ------------------------------------------------------------------------------
    def step(self, iters):
        """Run ``iters`` iterations (Caffe's Solver::Step)."""
        p = self.param
        start_iter = self.iter
        stop_iter = self.iter + int(iters)
        self._losses = []
        self.smoothed_loss = 0.0
        iterations_last = self.iter
        timer = time.perf_counter()
        started = timer
        while self.iter < stop_iter:
            self.net.clear_param_diffs()
            if p.test_interval and self.iter % p.test_interval == 0 and (
                    self.iter > 0 or p.test_initialization):
                self.test_all()
                if self.requested_early_exit:
                    break
            for callback in self.callbacks:
                callback.on_start()
            display = bool(p.display) and self.iter % p.display == 0
            self.net.debug_info = display and p.debug_info
            if self.check_divergence:
                self.iteration_start_extra = self._capture_extra()
            loss = F32(0)
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for _ in range(p.iter_size):
                    loss = F32(loss + F32(self.net.forward_backward()))
            loss = F32(loss / F32(p.iter_size))
            if self.check_divergence and not np.isfinite(loss):
                divergence.stop(self, f"loss = {float(loss):g}")
            self._update_smoothed_loss(loss, start_iter, p.average_loss)
            if display:
                lapse = time.perf_counter() - timer
                per_s = (self.iter - iterations_last) / (lapse if lapse else 1)
                log.info("Iteration %d (%g iter/s, %gs/%d iters), loss = %g", self.iter, per_s,
                         lapse, p.display, self.smoothed_loss)
                timer = time.perf_counter()
                iterations_last = self.iter
                self._log_outputs(self.net, "Train", None)
            for callback in self.callbacks:
                callback.on_gradients_ready()
            self.apply_update()
            self.iter += 1
            request = self.get_requested_action()
            if (p.snapshot and self.iter % p.snapshot == 0) or request == SNAPSHOT:
                self.snapshot()
            if request == STOP:
                self.requested_early_exit = True
                break
        self.trained_iterations += self.iter - start_iter
        self.train_seconds += time.perf_counter() - started

    def _update_smoothed_loss(self, loss, start_iter, average_loss):
        """Caffe's UpdateSmoothedLoss: running mean over the last ``average_loss`` losses."""
        if len(self._losses) < average_loss:
            self._losses.append(loss)
            size = len(self._losses)
            self.smoothed_loss = float(F32((F32(self.smoothed_loss) * (size - 1) + loss) / size))
        else:
            idx = (self.iter - start_iter) % average_loss
            self.smoothed_loss = float(F32(F32(self.smoothed_loss) + (loss - self._losses[idx]) /
                                           F32(average_loss)))
            self._losses[idx] = loss

    def apply_update(self):
        """Caffe's SGDSolver::ApplyUpdate: lr, clip, then per param normalize/regularize/rule,
        then ``data -= diff`` (Net::Update) on the learnable (owner) params."""
        p = self.param
        rate, self.current_step = lr_policies.learning_rate(p, self.iter, self.current_step)
        self.learning_rate = rate
        if p.display and self.iter % p.display == 0:
            log.info("Iteration %d, lr = %g", self.iter, rate)
        gpu = backend.is_gpu()
        params = self.net.learnable_params
        datas = [b.gpu_data if gpu else b.data for b in params]
        diffs = [b.gpu_diff if gpu else b.diff for b in params]
        hist = [b.gpu_data if gpu else b.data for b in self.history]
        n = len(params)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            updates.clip_gradients(diffs, self.hp.clip_gradients)
            for i in range(n):
                updates.normalize(diffs[i], self.hp.iter_size)
                local_decay = self.hp.weight_decay * F32(self.net.params_weight_decay[i])
                updates.regularize(datas[i], diffs[i], local_decay, self.hp.regularization_type)
            if self.check_divergence:
                self._backup.save(datas + hist)
            for i in range(n):
                local_rate = F32(rate) * F32(self.net.params_lr[i])
                if gpu:  # one fused kernel per rule (layers_cuda/solver_updates.cu)
                    from caffeine.cuda_layers.solver_gpu import gpu_update
                    gpu_update(self.rule, diffs[i], hist[i::n], local_rate, self.hp, self.iter,
                               self._scratch_for(i, diffs[i]))
                else:
                    self.rule.compute(diffs[i], hist[i::n], local_rate, self.hp, self.iter,
                                      self._scratch_for(i, diffs[i]))
            if self.net.debug_info:
                self._update_debug_info(params)
            for i in range(n):
                datas[i] -= diffs[i]
            if self.check_divergence:
                bad = divergence.first_nonfinite(datas)
                if bad is not None:
                    # roll back to the last good state; a NaN/Inf gradient ends up here too
                    self._backup.restore(datas + hist)
                    label = self._param_label(bad)
                    where = self.net.first_nonfinite()   # a NaN/Inf input gradient, if any
                    if where is None or " param " in where:
                        where = ""                       # param diffs hold the steps now
                    divergence.stop(self, f"the update of {label} is not finite (lr = {rate:g})",
                                    where)

    def _scratch_for(self, i, like):
        """Reusable work arrays for param i (Caffe's update_/temp_ blobs)."""
        if self.rule.scratch == 0:
            return ()
        arrays = self._scratch.get(i)
        if arrays is None or arrays[0].shape != like.shape or type(arrays[0]) is not type(like):
            xp = backend.get_array_module(like)
            arrays = [xp.empty_like(like) for _ in range(self.rule.scratch)]
            self._scratch[i] = arrays
        return arrays

    def _param_label(self, i):
        name = self.net.learnable_param_names[i]
        layer, _, index = name.rpartition("/")
        return f"layer '{layer}' param {index}" if layer else f"param '{name}'"

    def _update_debug_info(self, params):
        for name, blob in zip(self.net.learnable_param_names, params):
            layer, _, index = name.rpartition("/")
            count = max(blob.count(), 1)
            log.info("    [Update] Layer %s, param %s data: %g; diff: %g", layer or name,
                     index if layer else name, blob.asum_data() / count, blob.asum_diff() / count)

    def solve(self, resume_file=None):
        """Caffe's Solver::Solve: optionally restore, train to max_iter, final snapshot/test."""
        p = self.param
        log.info("Solving %s", self.net.name)
        log.info("Learning Rate Policy: %s", p.lr_policy)
        self.requested_early_exit = False
        if resume_file:
            log.info("Restoring previous solver status from %s", resume_file)
            self.restore(resume_file)
        start_iter = self.iter
        self.step(p.max_iter - self.iter)
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
            self.snapshot()
        self._log_speed()
        if self.requested_early_exit:
            log.info("Optimization stopped early.")
            return
        if p.display and self.iter % p.display == 0:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = F32(self.net.forward_loss())
            self._update_smoothed_loss(loss, start_iter, p.average_loss)
            log.info("Iteration %d, loss = %g", self.iter, self.smoothed_loss)
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        log.info("Optimization Done.")

    def _log_speed(self):
        if not self.trained_iterations or self.train_seconds <= 0:
            return
        per_iter = self.images_per_iteration()
        speed = self.trained_iterations / self.train_seconds
        text = (f"Trained {self.trained_iterations} iterations in {self.train_seconds:.2f} s "
                f"({speed:.2f} iter/s")
        if per_iter:
            text += f", {speed * per_iter:.0f} img/s"
        text += ")"
        wait = self.data_wait_seconds()
        if wait is not None:
            text += f"; waited {wait:.1f} s for data"
        log.info(text)

    def data_wait_seconds(self):
        """Seconds the train net's data layers waited for prefetched batches (None if none)."""
        waits = [layer.wait_seconds for layer in self.net.layers if hasattr(layer, "wait_seconds")]
        return float(sum(waits)) if waits else None

    def images_per_iteration(self):
        """Batch size of the train net's first top blob times iter_size (0 if unknown)."""
        for tops in getattr(self.net, "top_vecs", []):
            if tops and tops[0].num_axes:
                return tops[0].shape[0] * self.param.iter_size
        return 0

    # ---- snapshots -----------------------------------------------------------------------------
    def can_snapshot(self):
        return bool(self.param.snapshot_prefix)

    def _capture_extra(self):
        return snap.capture_extra(self.iter, self.net, self.test_nets)

    def snapshot(self, extra=None):
        """Caffe's Snapshot: weights, then solverstate; both atomic.  Returns the state path."""
        p = self.param
        prefix = p.snapshot_prefix
        h5 = p.snapshot_format == snap.HDF5
        model_path = snap.filename(prefix, self.iter, ".caffemodel.h5" if h5 else ".caffemodel")
        log.info("Snapshotting to %s file %s", "HDF5" if h5 else "binary proto", model_path)
        snap.write_weights(self.net, model_path, p.snapshot_format, p.snapshot_diff)
        state_path = snap.filename(prefix, self.iter, ".solverstate.h5" if h5 else ".solverstate")
        snap.write_extra(state_path + snap.EXTRA_SUFFIX,
                         extra if extra is not None else self._capture_extra())
        log.info("Snapshotting solver state to %s file %s", "HDF5" if h5 else "binary proto",
                 state_path)
        snap.write_state(state_path, p.snapshot_format, self.iter, model_path, self.current_step,
                         self.history)
        self.last_snapshot = (model_path, state_path)
        return state_path

    def restore(self, state_file):
        """Caffe's Restore: weights named by the state, iter, current_step, history; plus the
        random state and data positions from the side file when it is there."""
        state_file = os.fspath(state_file)
        it, learned_net, current_step, history = snap.read_state(state_file)
        if learned_net:
            snap.load_weights(self.net, snap.find_learned_net(learned_net, state_file))
        if len(history) != len(self.history):
            raise WeightsError(
                f"the solverstate holds {len(history)} history blobs; a {self.type} solver on this "
                f"net needs {len(self.history)}", file=state_file,
                expected=len(self.history), found=len(history))
        for i, (blob, values) in enumerate(zip(self.history, history)):
            if values.size != blob.count():
                raise WeightsError(f"history blob {i} has the wrong size", file=state_file,
                                   expected=blob.shape, found=values.size)
            blob.data[...] = values.reshape(blob.shape)
        self.iter = it
        self.current_step = current_step
        log.info("%s: restored iteration %d and its history", type(self).__name__, it)
        extra = snap.read_extra(state_file + snap.EXTRA_SUFFIX, it)
        if extra is not None:
            snap.apply_extra(extra, self.net, self.test_nets)
        else:
            log.info("No %s%s: random state and data positions start afresh (as Caffe)",
                     os.path.basename(state_file), snap.EXTRA_SUFFIX)

