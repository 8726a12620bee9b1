"""Score a trained model: `caffeine test --model M --weights W --iterations 50` (Caffe's test)."""
import logging

import numpy as np

from caffeine.cli.common import add_model_flags, positive, select_mode, stages

log = logging.getLogger("caffeine")


def add_arguments(parser):
    add_model_flags(parser, iterations=50)


def run(args):
    from caffeine.net import Net
    positive("--iterations", args.iterations)
    select_mode(args.gpu)
    net = Net(args.model, phase=1, level=args.level, stages=stages(args))
    if args.weights:
        net.copy_from(args.weights)
    log.info("Running for %d iterations.", args.iterations)
    scores, names, total_loss = [], [], 0.0
    for i in range(args.iterations):
        total_loss += net.forward_loss()
        idx = 0
        for name in net.output_blob_names:
            values = np.asarray(net.blobs[name].host_data_readonly, dtype=np.float64).ravel()
            for v in values:
                if i == 0:
                    scores.append(float(v))
                    names.append(name)
                else:
                    scores[idx] += float(v)
                log.info("Batch %d, %s = %g", i, name, v)
                idx += 1
    log.info("Loss: %g", total_loss / args.iterations)
    for name, score in zip(names, scores):
        mean = score / args.iterations
        weight = net.blob_loss_weights.get(name, 0.0)
        extra = f" (* {weight:g} = {weight * mean:g} loss)" if weight else ""
        log.info("%s = %.6g%s", name, mean, extra)
    return 0
