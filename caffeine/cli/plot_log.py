"""Plot a training log: `caffeine plot_log LOG OUT.png [--x iters|seconds] [--charts loss,accuracy,lr]`.

Reads the log as `caffeine parse_log` does (Caffe's glog format) and draws, one panel each,
training and test loss, the test outputs that are not losses (accuracy ...), and the
learning rate, against the iteration (or the seconds since `Solving`).  Matplotlib with
the Agg backend: no display needed.
"""
import math
import os

from caffeine.cli.parse_log import parse_log
from caffeine.errors import DataError, UsageError

CHARTS = ("loss", "accuracy", "lr")
_FIXED = ("NumIters", "Seconds", "LearningRate")


def add_arguments(parser):
    parser.add_argument("logfile_path", help="training log (glog format)")
    parser.add_argument("output", help="image to write (.png, .svg or .pdf)")
    parser.add_argument("--x", choices=("iters", "seconds"), default="iters", help="x axis (default iters)")
    parser.add_argument("--charts", default=",".join(CHARTS),
                        help="comma-separated panels among loss, accuracy, lr (default: all three)")
    parser.add_argument("--title", default=None, help="figure title (default: the log's file name)")


def _is_loss(name):
    return "loss" in name.lower()


def _series(rows, x_key, value_key):
    xs, ys = [], []
    for row in rows:
        v = row.get(value_key)
        if v is not None and not math.isnan(v):
            xs.append(row[x_key])
            ys.append(v)
    return xs, ys


def plot_rows(train_rows, test_rows, output, x="iters", charts=CHARTS, title=None):
    """Draw the panels into `output`; returns the list of (panel, label, n_points) drawn."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    x_key = "NumIters" if x == "iters" else "Seconds"
    train_cols = [k for k in (train_rows[0] if train_rows else {}) if k not in _FIXED]
    test_cols = [k for k in (test_rows[0] if test_rows else {}) if k not in _FIXED]
    fig, axes = plt.subplots(len(charts), 1, figsize=(8, 3.2 * len(charts)), sharex=True, squeeze=False)
    drawn = []
    for ax, chart in zip(axes[:, 0], charts):
        lines = []
        if chart == "loss":
            lines += [("train " + c, *_series(train_rows, x_key, c)) for c in train_cols if _is_loss(c)]
            lines += [("test " + c, *_series(test_rows, x_key, c)) for c in test_cols if _is_loss(c)]
            ax.set_ylabel("loss")
        elif chart == "accuracy":
            lines += [("test " + c, *_series(test_rows, x_key, c)) for c in test_cols if not _is_loss(c)]
            lines += [("train " + c, *_series(train_rows, x_key, c)) for c in train_cols if not _is_loss(c)]
            ax.set_ylabel("accuracy")
        else:
            rows = train_rows or test_rows
            lines.append(("learning rate", *_series(rows, x_key, "LearningRate")))
            ax.set_ylabel("learning rate")
            if lines[0][2] and min(lines[0][2]) > 0 and max(lines[0][2]) / min(lines[0][2]) >= 10:
                ax.set_yscale("log")
        for label, xs, ys in lines:
            if xs:
                style = dict(drawstyle="steps-post") if chart == "lr" else dict(
                    marker="o" if len(xs) < 30 else None, markersize=3)
                ax.plot(xs, ys, label=label, **style)
                drawn.append((chart, label, len(xs)))
        if any(xs for _, xs, _ in lines):
            ax.legend(loc="best", fontsize="small")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel("iteration" if x == "iters" else "seconds")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=100)
    plt.close(fig)
    return drawn


def run(args):
    charts = [c.strip() for c in args.charts.split(",") if c.strip()]
    bad = [c for c in charts if c not in CHARTS]
    if bad or not charts:
        raise UsageError("unknown chart", field="--charts", expected=", ".join(CHARTS), found=",".join(bad) or "none")
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in (".png", ".svg", ".pdf"):
        raise UsageError("output must be a .png, .svg or .pdf file", expected=".png|.svg|.pdf", found=args.output)
    train_rows, test_rows = parse_log(args.logfile_path)
    if not train_rows and not test_rows:
        raise DataError("no 'Train net output' or 'Test net output' lines found: not a training log?",
                        file=args.logfile_path)
    drawn = plot_rows(train_rows, test_rows, args.output, x=args.x, charts=charts,
                      title=args.title if args.title is not None else os.path.basename(args.logfile_path))
    print(f"wrote {args.output}: " + ", ".join(f"{label} ({n} points)" for _, label, n in drawn))
    return 0
