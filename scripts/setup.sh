#!/usr/bin/env bash
# One set-up command: creates .venv and installs judgeray with its training and test extras.
#   bash scripts/setup.sh
# torch is installed first, pinned to 2.13.0, so pip takes the local CPU wheel instead of CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
DS_BUILD_OPS=0 .venv/bin/pip install -q -e ".[train,test]"
.venv/bin/pip check
echo "judgeray installed in .venv (activate: source .venv/bin/activate)"
