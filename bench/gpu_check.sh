#!/usr/bin/env bash
# GPU checks for the estimate and the multi-process launch, for a lent CUDA machine.
#
#   bench/gpu_check.sh            # everything below, a few minutes on one GPU
#   PYTHON=python3 MODEL=/path/to/model bench/gpu_check.sh
#
# 1. what torch sees (GPUs, bf16, free memory) and `studio estimate` on this GPU
# 2. QLoRA (4-bit NF4, bitsandbytes CUDA kernels) trains a few steps on CUDA through the job manager
# 3. the same run started through `accelerate launch` with one process (resources.launcher=accelerate)
# 4. with 2+ GPUs: a 2-process DDP run, then DeepSpeed ZeRO-2 and ZeRO-3 if deepspeed is installed
# 5. bench/memory.py on CUDA: estimate vs torch.cuda.max_memory_allocated + context, per method
# Each step prints PASS/FAIL; the exit code is the number of failures.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
MODEL=${MODEL:-smollm2-135m-instruct}
DATA=assets/samples/identity_alpaca.jsonl
export STUDIO_WORKSPACE=${STUDIO_WORKSPACE:-$(mktemp -d)/ws}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
FAIL=0
step() { echo; echo "=== $*"; }
check() { if "$@"; then echo "PASS: $*"; else echo "FAIL: $*"; FAIL=$((FAIL + 1)); fi; }

step "environment"
"$PY" - <<'PY' || { echo "FAIL: torch/CUDA not usable with $PY"; exit 99; }
import torch
assert torch.cuda.is_available(), "no CUDA GPU visible"
for i in range(torch.cuda.device_count()):
    free, total = torch.cuda.mem_get_info(i)
    print(f"GPU {i}: {torch.cuda.get_device_name(i)}, {total / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free, "
          f"bf16={torch.cuda.is_bf16_supported()}")
for name in ("transformers", "trl", "peft", "accelerate", "bitsandbytes", "deepspeed"):
    try:
        print(name, __import__(name).__version__)
    except Exception as exc:  # noqa: BLE001
        print(name, "missing:", type(exc).__name__)
PY
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
HAS_DS=$("$PY" -c "import importlib.util as u; print(int(u.find_spec('deepspeed') is not None))")

train() {  # train NAME [--set k=v ...]: a short CUDA run through the job manager; PASS when it succeeds
  local name=$1; shift
  "$PY" -m studio train --preset cpu-qlora-sft --model "$MODEL" --data "$DATA" --name "$name" \
    --set resources.device=cuda --set max_steps=6 --set save_steps=3 --set precision=auto "$@"
}

step "estimate on this GPU"
check "$PY" -m studio estimate --preset cpu-qlora-sft --model "$MODEL" --data "$DATA" --set resources.device=cuda
check "$PY" -m studio estimate --preset qlora-7b-24gb --gpu-memory 24GiB

step "QLoRA on CUDA (single process)"
check train gpu-qlora
check test -f "$STUDIO_WORKSPACE/runs/gpu-qlora/adapter/adapter_model.safetensors"

step "one process through accelerate launch"
check train gpu-launch1 --set resources.launcher=accelerate
check test -f "$STUDIO_WORKSPACE/runs/gpu-launch1/accelerate_config.yaml"
check test -f "$STUDIO_WORKSPACE/runs/gpu-launch1/launch_result.json"

if [ "$NGPU" -ge 2 ]; then
  step "2 GPUs: DDP"
  check train gpu-ddp --set method=lora --set num_gpus=2
  if [ "$HAS_DS" = 1 ]; then
    step "2 GPUs: DeepSpeed ZeRO-2 and ZeRO-3"
    check train gpu-zero2 --set method=lora --set num_gpus=2 --set deepspeed=zero2
    check train gpu-zero3 --set method=lora --set num_gpus=2 --set deepspeed=zero3
  else
    echo "deepspeed not installed: ZeRO runs skipped (pip install deepspeed)"
  fi
else
  echo "1 GPU: multi-GPU DDP/ZeRO runs skipped (the 1-process accelerate launch above covers the launch path)"
fi

step "estimate vs measured GPU memory"
check "$PY" bench/memory.py --methods lora,qlora,full,dora --steps 4

echo
echo "gpu_check: $FAIL failure(s); workspace $STUDIO_WORKSPACE"
exit "$FAIL"
