"""Building a solver's nets, as Caffe's Solver::InitTrainNet / InitTestNets, and checking
where snapshots will go (UpgradeSnapshotPrefixProperty, CheckSnapshotWritePermissions)."""
import logging
import os

from caffeine.errors import SolverError
from caffeine.paths import resolve_output_path, resolve_path
from caffeine.proto import caffe_pb2
from caffeine.proto import io as proto_io
from caffeine.solvers import snapshot as snap

log = logging.getLogger("caffeine")


class ScaffoldingMixin:
    def _default_snapshot_prefix(self):
        """Caffe's UpgradeSnapshotPrefixProperty, then caffeine's path resolution."""
        p = self.param
        if not p.HasField("snapshot_prefix") and self.source:
            p.snapshot_prefix = os.path.splitext(self.source)[0]
            log.info("snapshot_prefix was not specified and is set to %s", p.snapshot_prefix)
        elif p.snapshot_prefix and os.path.isdir(p.snapshot_prefix):
            stem = os.path.splitext(os.path.basename(self.source))[0] if self.source else "snapshot"
            p.snapshot_prefix = os.path.join(p.snapshot_prefix, stem)
            log.info("snapshot_prefix was a directory and is replaced to %s", p.snapshot_prefix)
        if p.snapshot_prefix:
            p.snapshot_prefix = resolve_output_path(p.snapshot_prefix, self.source_dir)

    def _check_snapshot_prefix(self, line_of):
        """Caffe's CheckSnapshotWritePermissions, before training rather than at the first
        snapshot; also when only the final (snapshot_after_train) snapshot will be written."""
        p = self.param
        if not (p.snapshot or p.snapshot_after_train):
            return
        if p.snapshot and not p.snapshot_prefix:
            raise SolverError("snapshot is specified but snapshot_prefix is not", file=self.source,
                              line=line_of("snapshot"), field="snapshot_prefix",
                              expected="a snapshot_prefix", found="none")
        folder = os.path.dirname(p.snapshot_prefix) or "."
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
            raise SolverError(f"Cannot write to snapshot prefix '{p.snapshot_prefix}'. Make sure that "
                              "the directory exists and is writeable.", file=self.source,
                              line=line_of("snapshot_prefix"), field="snapshot_prefix",
                              expected="an existing, writable folder", found=folder)

    def _net_state(self, phase, net_param, extra):
        state = caffe_pb2.NetState()
        state.phase = phase
        state.MergeFrom(net_param.state)
        if extra is not None:
            state.MergeFrom(extra)
        return state

    def _build_net(self, what, model, net_param, state):
        return self._Net(model if model is not None else net_param, phase=state.phase,
                         level=state.level, stages=tuple(state.stage))

    def _read_net(self, path):
        resolved = resolve_path(path, self.source_dir)
        return resolved, proto_io.read_net_param(resolved)

    def _init_train_net(self):
        p = self.param
        model = None
        if p.HasField("train_net_param"):
            log.info("Creating training net specified in train_net_param.")
            net_param = p.train_net_param
        elif p.HasField("train_net"):
            log.info("Creating training net from train_net file: %s", p.train_net)
            model, net_param = self._read_net(p.train_net)
        elif p.HasField("net_param"):
            log.info("Creating training net specified in net_param.")
            net_param = p.net_param
        else:
            log.info("Creating training net from net file: %s", p.net)
            model, net_param = self._read_net(p.net)
        state = self._net_state(caffe_pb2.TRAIN, net_param,
                                p.train_state if p.HasField("train_state") else None)
        net = self._build_net("train", model, net_param, state)
        for weights in p.weights:
            for path in weights.split(","):
                snap.load_weights(net, resolve_path(path, self.source_dir))
        return net

    def _init_test_nets(self):
        p = self.param
        sources = []
        for net_param in p.test_net_param:
            sources.append(("test_net_param", None, net_param))
        for path in p.test_net:
            model, net_param = self._read_net(path)
            sources.append((f"test_net file: {path}", model, net_param))
        remaining = len(p.test_iter) - len(sources)
        if p.HasField("net_param"):
            sources += [("net_param", None, p.net_param)] * remaining
        elif p.HasField("net"):
            model, net_param = self._read_net(p.net)
            sources += [(f"net file: {p.net}", model, net_param)] * remaining
        nets = []
        for i, (what, model, net_param) in enumerate(sources):
            state = self._net_state(caffe_pb2.TEST, net_param,
                                    p.test_state[i] if len(p.test_state) else None)
            log.info("Creating test net (#%d) specified by %s", i, what)
            net = self._build_net("test", model, net_param, state)
            net.debug_info = p.debug_info
            for weights in p.weights:
                for path in weights.split(","):
                    snap.load_weights(net, resolve_path(path, self.source_dir))
            nets.append(net)
        return nets
