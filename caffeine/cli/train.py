"""Train or fine-tune a model (Caffe's `caffe train`)."""
import logging

from caffeine.cli.common import add_gpu_flag, select_mode
from caffeine.data.progress import progress
from caffeine.errors import UsageError

log = logging.getLogger("caffeine")


def add_arguments(parser):
    parser.add_argument("--solver", required=True, help="solver .prototxt")
    parser.add_argument("--weights", default="",
                        help="fine-tune from these .caffemodel(s), comma-separated")
    parser.add_argument("--snapshot", default="", help="resume from this .solverstate")
    add_gpu_flag(parser)
    parser.add_argument("--iterations", type=int, default=None, help="override the solver's max_iter")
    parser.add_argument("--sigint_effect", default="stop", choices=["stop", "snapshot", "none"])
    parser.add_argument("--sighup_effect", default="snapshot", choices=["snapshot", "stop", "none"])
    parser.add_argument("--level", type=int, default=0)
    parser.add_argument("--stage", default="")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")
    parser.add_argument("--tensorboard", default="", help="also write TensorBoard event files here")


def run(args):
    from caffeine.proto import io as proto_io
    from caffeine.solvers import get_solver
    from caffeine.solvers.signals import SignalHandler
    if args.snapshot and args.weights:
        raise UsageError("give --snapshot (resume) or --weights (fine-tune), not both",
                         expected="one of --snapshot / --weights", found="both")
    if args.iterations is not None and args.iterations < 0:
        raise UsageError("--iterations must be >= 0", field="--iterations", expected=">= 0",
                         found=args.iterations)
    solver_param = proto_io.read_solver_param(args.solver)
    solver_param.train_state.level = args.level
    for s in [s for s in args.stage.split(",") if s]:
        solver_param.train_state.stage.append(s)
    if args.iterations is not None:
        solver_param.max_iter = args.iterations
    gpu_spec = args.gpu
    if not gpu_spec and solver_param.solver_mode == solver_param.GPU:
        # Caffe trains on the GPU named by the solver when no --gpu flag is given
        from caffeine import backend
        if backend.gpu_available():
            gpu_spec = str(solver_param.device_id)
        else:
            log.warning("The solver asks for solver_mode: GPU but no usable GPU was found; training on the CPU")
    gpus = select_mode(gpu_spec)
    if len(gpus) > 1:
        log.warning("Multi-GPU training is not implemented; using GPU %d only. The batch size stays "
                    "the one in the prototxt (Caffe multiplied it by the number of GPUs).", gpus[0])
    solver = get_solver(solver_param, source=args.solver)
    if args.tensorboard:
        from caffeine.tensorboard import attach_tensorboard
        attach_tensorboard(solver, args.tensorboard)
    handler = SignalHandler(args.sigint_effect, args.sighup_effect)
    bar = progress(total=solver_param.max_iter, desc="train", unit="iter")  # a no-op unless stderr is a TTY

    def advance():
        bar.update(1)
        bar.set_postfix_str(f"loss {getattr(solver, 'smoothed_loss', 0.0):.4g}")

    solver.add_callback(lambda: None, advance)
    with handler, bar:
        solver.set_action_function(handler.get_requested_action)
        if args.weights:
            solver.copy_weights(args.weights)
        log.info("Starting Optimization")
        solver.solve(resume_file=args.snapshot or None)
    return 0
