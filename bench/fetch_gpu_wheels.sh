#!/usr/bin/env bash
# Fetch, on this (networked) machine, the wheels the GPU machine lacks into .whl/ (git-ignored),
# for bench/gpu_check.sh there: the device image has CuPy, PyTorch, OpenCV, h5py and pytest but
# no lmdb, and an older protobuf than the one caffe_pb2.py was generated with.
# Then: device run with carry [".whl"] and command "bash bench/gpu_check.sh".
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
protobuf=$(python3 -c "import google.protobuf as p; print(p.__version__)")
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "lmdb==2.2.0" "protobuf==$protobuf"
ls -la .whl
