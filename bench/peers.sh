#!/usr/bin/env bash
# Installs the benchmark peers (NOT project dependencies) into their own venv:
#   LLaMA-Factory 0.9.5 -> .peers/lf-venv  (it pulls torch 2.14.1, transformers 5.6, peft 0.18, trl 0.24)
# bench/train_speed.py --peers then runs it beside plain trl and the studio.
# Usage: bash bench/peers.sh [PYTHON]   (PYTHON defaults to python3.11, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-$(command -v python3.11 || command -v python3)}"
VENV=.peers/lf-venv
if [ -x "$VENV/bin/llamafactory-cli" ]; then
  echo "LLaMA-Factory already installed in $VENV"; exit 0
fi
mkdir -p .peers
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
# The CPU build first (an unpinned torch would pull a multi-GB CUDA build), then LLaMA-Factory.
"$VENV/bin/pip" install "torch==2.13.0"
"$VENV/bin/pip" install "llamafactory==0.9.5"
"$VENV/bin/llamafactory-cli" version || true
echo "LLaMA-Factory installed in $VENV"
