"""Show the GPU caffeine would use (Caffe's device_query); says so when there is none."""
import logging

from caffeine import backend
from caffeine.cli.common import add_gpu_flag, parse_gpus

log = logging.getLogger("caffeine")


def add_arguments(parser):
    add_gpu_flag(parser)


def run(args):
    if not backend.gpu_available():
        try:
            backend.cupy_or_raise()
        except backend.GPUUnavailableError as exc:
            reason = exc.message
        log.info("No GPU available: caffeine runs in CPU mode. (%s)", reason)
        print(f"CPU only: no usable CUDA GPU ({reason})")
        return 0
    for dev in parse_gpus(args.gpu or "all"):
        props = backend.device_properties(dev)
        log.info("Querying GPU %d", dev)
        for key, value in props.items():
            log.info("%s: %s", key, value)
            print(f"{key}: {value}")
    return 0
