"""Flags and helpers shared by the verbs that build nets (train, test, time)."""
import logging

from caffeine import backend
from caffeine.errors import UsageError


def add_gpu_flag(parser):
    parser.add_argument("--gpu", default="", help="GPU id(s) to use: 0, 0,1 or all (default: CPU)")


def add_model_flags(parser, iterations=50):
    parser.add_argument("--model", required=True, help="net definition .prototxt")
    parser.add_argument("--weights", default="", help="trained .caffemodel(s), comma-separated")
    parser.add_argument("--iterations", type=int, default=iterations, help="number of batches")
    parser.add_argument("--level", type=int, default=0, help="net state level")
    parser.add_argument("--stage", default="", help="comma-separated net state stages")
    add_gpu_flag(parser)


def parse_gpus(spec):
    """Caffe's get_gpus: '' -> [], 'all' -> every device, '0,1' -> [0, 1]."""
    spec = (spec or "").strip()
    if not spec:
        return []
    if spec == "all":
        cp = backend.cupy_or_raise()
        return list(range(cp.cuda.runtime.getDeviceCount()))
    try:
        return [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise UsageError("--gpu takes device ids like 0 or 0,1 or 'all'", field="--gpu",
                         expected="0 | 0,1 | all", found=spec) from None


def select_mode(gpu_spec):
    """CPU or GPU mode from --gpu, logged as Caffe's tools do ("Use GPU with device ID 0")."""
    gpus = parse_gpus(gpu_spec)
    log = logging.getLogger("caffeine")
    if gpus:
        backend.set_device(gpus[0])
        backend.set_mode_gpu()
        log.info("Use GPU with device ID %d", gpus[0])
        log.info("GPU %d: %s", gpus[0], backend.device_properties(gpus[0])["Name"])
    else:
        backend.set_mode_cpu()
        log.info("Use CPU.")
    return gpus


def stages(args):
    return [s for s in (args.stage or "").split(",") if s]


def positive(name, value):
    if value <= 0:
        raise UsageError(f"{name} must be positive", field=name, expected="> 0", found=value)
    return value
