"""Logging in glog's format, so Caffe's log parsers (tools/extra/parse_log.py) work:

    I1128 22:30:00.123456 12345 solver.py:123] Iteration 100, loss = 0.23
"""
import logging
import os
import sys
import time

_LEVEL_CHAR = {logging.DEBUG: "I", logging.INFO: "I", logging.WARNING: "W", logging.ERROR: "E",
               logging.CRITICAL: "F"}


class GlogFormatter(logging.Formatter):
    def format(self, record):
        t = time.localtime(record.created)
        micros = int((record.created - int(record.created)) * 1e6)
        prefix = "%s%02d%02d %02d:%02d:%02d.%06d %5d %s:%d] " % (
            _LEVEL_CHAR.get(record.levelno, "I"), t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
            micros, os.getpid(), os.path.basename(record.pathname), record.lineno)
        return prefix + record.getMessage()


def setup_logging(quiet=False, stream=None):
    """Send the 'caffeine' logger to stderr (as glog does) in glog's format."""
    logger = logging.getLogger("caffeine")
    for h in list(logger.handlers):
        if getattr(h, "_caffeine", False):
            logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._caffeine = True
    handler.setFormatter(GlogFormatter())
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = True  # lets pytest caplog see records; root has no handler in the CLI
    return logger
