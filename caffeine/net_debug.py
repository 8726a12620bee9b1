"""Numerical health checks and Caffe's debug_info output for a Net."""
import logging

import numpy as np

log = logging.getLogger("caffeine")


class NetDebugMixin:
    def first_nonfinite(self):
        """Name the first layer whose output, param or gradient is NaN/Inf (or None)."""
        for i, name in enumerate(self.layer_names):
            for tname, t in zip(self.top_ids[i], self.top_vecs[i]):
                if not np.all(np.isfinite(t.host_data_readonly)):
                    return f"layer '{name}' ({self.layers[i].type}) output '{tname}' is not finite"
        for i in reversed(range(len(self.layers))):
            name = self.layer_names[i]
            for k, p in enumerate(self.layers[i].blobs):
                if not np.all(np.isfinite(p.host_data_readonly)):
                    return f"layer '{name}' ({self.layers[i].type}) param {k} is not finite"
                if not np.all(np.isfinite(p.host_diff_readonly)):
                    return f"layer '{name}' ({self.layers[i].type}) param {k} gradient is not finite"
            for bname, b, need in zip(self.bottom_ids[i], self.bottom_vecs[i], self.bottom_need_backward[i]):
                if need and not np.all(np.isfinite(b.host_diff_readonly)):
                    return f"layer '{name}' ({self.layers[i].type}) gradient w.r.t. '{bname}' is not finite"
        return None

    def _forward_debug(self, i):
        for tname, t in zip(self.top_ids[i], self.top_vecs[i]):
            log.info("    [Forward] Layer %s, top blob %s data: %g", self.layer_names[i], tname,
                     t.asum_data() / max(t.count(), 1))
        for k, p in enumerate(self.layers[i].blobs):
            log.info("    [Forward] Layer %s, param blob %d data: %g", self.layer_names[i], k,
                     p.asum_data() / max(p.count(), 1))

    def _backward_debug(self, i):
        for bname, b, need in zip(self.bottom_ids[i], self.bottom_vecs[i], self.bottom_need_backward[i]):
            if need:
                log.info("    [Backward] Layer %s, bottom blob %s diff: %g", self.layer_names[i], bname,
                         b.asum_diff() / max(b.count(), 1))
        for k, p in enumerate(self.layers[i].blobs):
            log.info("    [Backward] Layer %s, param blob %d diff: %g", self.layer_names[i], k,
                     p.asum_diff() / max(p.count(), 1))

    def _update_debug_summary(self):
        asum_data = sum(p.asum_data() for p in self.learnable_params)
        asum_diff = sum(p.asum_diff() for p in self.learnable_params)
        log.info("    [Backward] All net params (data, diff): L1 norm = (%g, %g)", asum_data, asum_diff)
