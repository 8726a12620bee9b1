"""Parse a Caffe/caffeine training log into CSVs: `caffeine parse_log LOG OUTDIR`.

Caffe's tools/extra/parse_log.py semantics: OUTDIR/<basename(LOG)>.train and .test, one row
per iteration that printed net outputs, columns NumIters, Seconds, LearningRate and then
one column per output (``loss``, ``accuracy`` ...).

- The clock starts at the first ``Solving`` line; Seconds are glog timestamps minus it
  (the year is the log file's, and rolls over when the month goes backwards).
- Nothing is read before the first ``Iteration N`` line; later lines without a glog
  timestamp (a net dump from a resumed run) are skipped.
- A row gets its LearningRate from the last ``lr = X`` seen; the first rows usually
  precede the first lr line, so they take the second row's rate.
- A row is complete once it has as many columns as the first row.
"""
import csv
import datetime
import math
import os
import re
from collections import OrderedDict

from caffeine.errors import DataError, UsageError

_ITERATION = re.compile(r"Iteration (\d+)")
_TRAIN_OUTPUT = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
_TEST_OUTPUT = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
_LEARNING_RATE = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")
_GLOG_TIME = re.compile(r"^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+)")


def add_arguments(parser):
    parser.add_argument("logfile_path", help="training log (glog format, as `caffeine train` or Caffe writes)")
    parser.add_argument("output_dir", help="folder for <log>.train and <log>.test")
    parser.add_argument("--delimiter", default=",", help="column delimiter (default ',')")
    parser.add_argument("--verbose", action="store_true", help="print the parsed rows")


def glog_datetime(line, year):
    """The timestamp of a glog line (``I1105 00:37:55.565062 ...``) or None."""
    m = _GLOG_TIME.match(line.strip())
    if not m:
        return None
    month, day, hour, minute, second, frac = m.groups()
    micro = int(frac.ljust(6, "0")[:6])
    try:
        return datetime.datetime(year, int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None


def _log_year(path):
    return datetime.datetime.fromtimestamp(os.path.getmtime(path)).year


def _add_output(regex, row, rows, line, iteration, seconds, lr):
    match = regex.search(line)
    if match:
        if row is None or row["NumIters"] != iteration:
            if row is not None:
                rows.append(row)
            row = OrderedDict([("NumIters", iteration), ("Seconds", seconds), ("LearningRate", lr)])
        row[match.group(2)] = float(match.group(3))
    if row is not None and rows and len(row) == len(rows[0]):
        rows.append(row)
        row = None
    return row


def parse_log(path, year=None):
    """Return (train_rows, test_rows): lists of OrderedDicts."""
    if not os.path.isfile(path):
        raise DataError("log file not found", file=path)
    year = year or _log_year(path)
    train_rows, test_rows = [], []
    train_row = test_row = None
    iteration = -1
    lr = float("nan")
    start = last = None
    with open(path, errors="replace") as f:
        lines = f.readlines()
    # Caffe starts reading after the first "Solving" line; a log without one starts the clock
    # at the first timestamped line after the first iteration.
    first = next((i for i, line in enumerate(lines) if "Solving" in line), None)
    if first is not None:
        start = last = glog_datetime(lines[first], year)
    for line in lines[(first + 1) if first is not None else 0:]:
        match = _ITERATION.search(line)
        if match:
            iteration = int(match.group(1))
        if iteration == -1:
            continue
        when = glog_datetime(line, year)
        if when is None:
            continue
        if last is not None and when.month < last.month:
            year += 1
            when = glog_datetime(line, year)
        last = when
        if start is None:
            start = when
        seconds = (when - start).total_seconds()
        match = _LEARNING_RATE.search(line)
        if match:
            lr = float(match.group(1))
        train_row = _add_output(_TRAIN_OUTPUT, train_row, train_rows, line, iteration, seconds, lr)
        test_row = _add_output(_TEST_OUTPUT, test_row, test_rows, line, iteration, seconds, lr)
    for rows in (train_rows, test_rows):
        if len(rows) > 1 and math.isnan(rows[0]["LearningRate"]):
            rows[0]["LearningRate"] = rows[1]["LearningRate"]
    return train_rows, test_rows


def write_csv(path, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        if not rows:
            return
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()), delimiter=delimiter, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def save_csv_files(log_path, output_dir, train_rows, test_rows, delimiter=","):
    base = os.path.basename(log_path)
    os.makedirs(output_dir, exist_ok=True)
    paths = os.path.join(output_dir, base + ".train"), os.path.join(output_dir, base + ".test")
    write_csv(paths[0], train_rows, delimiter)
    write_csv(paths[1], test_rows, delimiter)
    return paths


def run(args):
    if len(args.delimiter) != 1:
        raise UsageError("--delimiter must be one character", field="--delimiter", found=args.delimiter)
    train_rows, test_rows = parse_log(args.logfile_path)
    if not train_rows and not test_rows:
        raise DataError("no 'Train net output' or 'Test net output' lines found: not a training log?",
                        file=args.logfile_path)
    paths = save_csv_files(args.logfile_path, args.output_dir, train_rows, test_rows, args.delimiter)
    if args.verbose:
        for row in train_rows + test_rows:
            print(dict(row))
    print(f"wrote {paths[0]} ({len(train_rows)} rows) and {paths[1]} ({len(test_rows)} rows)")
    return 0
