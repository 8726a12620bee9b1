"""SIGINT / SIGHUP during training, as Caffe's SignalHandler.

The handlers only record that a signal arrived; the solver asks
:meth:`SignalHandler.get_requested_action` between iterations (and between test
batches), exactly where Caffe's ``GetRequestedAction`` is called, and then stops
and/or snapshots.  Because nothing is done inside the handler, a signal can never
interrupt a snapshot write half-way.

Effects (``--sigint_effect``, ``--sighup_effect``): ``stop`` (finish the current
iteration, then stop; ``solve()`` still writes the final snapshot when
``snapshot_after_train`` is on, as Caffe), ``snapshot`` (write a snapshot, keep
training), ``none`` (ignore).  Defaults: SIGINT stop, SIGHUP snapshot.

Beyond Caffe: while a ``stop`` from SIGINT is pending (the current iteration or
test is still running), a second SIGINT raises KeyboardInterrupt at once; files
already written stay intact because every write is atomic.
"""
import logging
import signal
import threading

from caffeine.errors import UsageError

log = logging.getLogger("caffeine")

NONE, STOP, SNAPSHOT = "none", "stop", "snapshot"
EFFECTS = (STOP, SNAPSHOT, NONE)


def parse_effect(value, flag="--sigint_effect"):
    effect = str(value).strip().lower()
    if effect not in EFFECTS:
        raise UsageError(f"{flag}: invalid effect '{value}'", field=flag.lstrip("-"),
                         expected=" | ".join(EFFECTS), found=value)
    return effect


class SignalHandler:
    """Install with ``with SignalHandler("stop", "snapshot") as h:`` (or ``install()``), then
    ``solver.set_action_function(h.get_requested_action)``."""

    def __init__(self, sigint_effect=STOP, sighup_effect=SNAPSHOT):
        self.sigint_effect = parse_effect(sigint_effect, "--sigint_effect")
        self.sighup_effect = parse_effect(sighup_effect, "--sighup_effect")
        self._got_sigint = False
        self._got_sighup = False
        self._stop_pending = False
        self._previous = {}

    # ---- installation ------------------------------------------------------------------------
    def install(self):
        if threading.current_thread() is not threading.main_thread():
            log.warning("Signal handlers can only be installed from the main thread; "
                        "SIGINT/SIGHUP keep their default behaviour")
            return self
        self._previous[signal.SIGINT] = signal.signal(signal.SIGINT, self._on_sigint)
        if hasattr(signal, "SIGHUP"):
            self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_sighup)
        return self

    def uninstall(self):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous.clear()

    def __enter__(self):
        return self.install()

    def __exit__(self, *exc):
        self.uninstall()
        return False

    # ---- handlers: record only -------------------------------------------------------------
    def _on_sigint(self, signum, frame):
        if self.sigint_effect == STOP:
            if self._stop_pending:
                raise KeyboardInterrupt("second SIGINT while stopping")
            self._stop_pending = True
        self._got_sigint = True

    def _on_sighup(self, signum, frame):
        self._got_sighup = True

    # ---- Caffe's GetRequestedAction ----------------------------------------------------------
    def get_requested_action(self):
        if self._got_sigint:
            self._got_sigint = False
            log.info("SIGINT received: %s", {STOP: "stopping after this iteration",
                                             SNAPSHOT: "snapshotting", NONE: "ignored"}[self.sigint_effect])
            return self.sigint_effect
        if self._got_sighup:
            self._got_sighup = False
            log.info("SIGHUP received: %s", {STOP: "stopping after this iteration",
                                             SNAPSHOT: "snapshotting", NONE: "ignored"}[self.sighup_effect])
            return self.sighup_effect
        return NONE
