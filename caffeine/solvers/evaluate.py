"""Test nets, as Caffe's Solver::TestAll / Test, and the output lines shared with training."""
import logging

import numpy as np

from caffeine.solvers.signals import NONE, SNAPSHOT, STOP

log = logging.getLogger("caffeine")
F32 = np.float32


class TestNetsMixin:
    __test__ = False   # not a pytest test class

    def test_all(self):
        """Run every test net (Caffe's TestAll); returns the mean outputs per test net."""
        for i in range(len(self.test_nets)):
            if self.requested_early_exit:
                break
            self.test(i)
        return self.test_results

    def test(self, test_net_id=0):
        """Caffe's Solver::Test: mean of each output over test_iter batches."""
        p = self.param
        log.info("Iteration %d, Testing net (#%d)", self.iter, test_net_id)
        net = self.test_nets[test_net_id]
        net.share_trained_layers_with(self.net)
        scores = None
        loss = F32(0)
        n_iter = p.test_iter[test_net_id]
        for _ in range(n_iter):
            request = self.get_requested_action()
            while request != NONE:
                if request == SNAPSHOT:
                    self.snapshot()
                elif request == STOP:
                    self.requested_early_exit = True
                request = self.get_requested_action()
            if self.requested_early_exit:
                break
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                iter_loss = net.forward_loss()
            if p.test_compute_loss:
                loss = F32(loss + F32(iter_loss))
            values = {name: np.ravel(net.blobs[name].host_data_readonly).astype(F32)
                      for name in net.output_blob_names}
            if scores is None:
                scores = {name: v.copy() for name, v in values.items()}
            else:
                for name in scores:
                    scores[name] += values[name]
        if self.requested_early_exit:
            log.info("Test interrupted.")
            return None
        if p.test_compute_loss:
            log.info("Test loss: %g", float(F32(loss / F32(n_iter))))
        means = {name: (s / F32(n_iter)).astype(F32) for name, s in (scores or {}).items()}
        self._log_outputs(net, "Test", means)
        self.test_results[test_net_id] = {name: (float(m[0]) if m.size == 1 else m)
                                          for name, m in means.items()}
        return self.test_results[test_net_id]

    def _log_outputs(self, net, kind, values):
        """``    Train net output #K: name = V (* w = wv loss)`` for each output element."""
        index = 0
        for name in net.output_blob_names:
            data = np.ravel(values[name] if values is not None else net.blobs[name].host_data_readonly)
            weight = net.blob_loss_weights.get(name, 0)
            for v in data:
                suffix = f" (* {weight:g} = {float(F32(weight) * F32(v)):g} loss)" if weight else ""
                log.info("    %s net output #%d: %s = %g%s", kind, index, name, float(v), suffix)
                index += 1
