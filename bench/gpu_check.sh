#!/usr/bin/env bash
# GPU checks for the estimate, multi-GPU strategies and fused kernels, for a lent CUDA machine.
#
#   bench/gpu_check.sh            # everything below; ~10-20 minutes on 1-8 GPUs
#   PYTHON=python3 MODEL=/path/to/model bench/gpu_check.sh
#   ONLY=strategies bench/gpu_check.sh     # one section: env, single, strategies, qlora, kernels, memory
#
# 1. what torch sees (GPUs, bf16, free memory, deepspeed/liger/flash-attn) and `studio estimate` here
# 2. QLoRA trains on CUDA (one process), then the same run through `accelerate launch`
# 3. every visible GPU at once (2+ GPUs): DDP, FSDP (full shard; + CPU offload), DeepSpeed ZeRO-1/2/3
#    (+ optimizer / parameter offload) when deepspeed is installed, each rank asserted on its own GPU
#    (torch.cuda.current_device() == LOCAL_RANK, weights there: bench/rank_check.py devices), and
#    devices=1 picks GPU 1 alone
# 4. QLoRA with DDP and with FSDP (bnb_4bit_quant_storage = compute dtype) on all GPUs
# 5. Liger kernels and flash-attention switched on, each, and tokens/s against the plain run
# 6. bench/memory.py on CUDA: estimate vs measured memory, per method
# Each check prints PASS/FAIL (SKIP when a package is missing); the exit code is the number of failures.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
MODEL=${MODEL:-smollm2-135m-instruct}
DATA=assets/samples/identity_alpaca.jsonl
ONLY=${ONLY:-}
export STUDIO_WORKSPACE=${STUDIO_WORKSPACE:-$(mktemp -d)/ws}
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} TOKENIZERS_PARALLELISM=false
RUNS="$STUDIO_WORKSPACE/runs"
FAIL=0
step() { echo; echo "=== $*"; }
check() { if "$@"; then echo "PASS: $*"; else echo "FAIL: $*"; FAIL=$((FAIL + 1)); fi; }
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
has() { "$PY" -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('$1') else 1)"; }

step "environment"
"$PY" - <<'PY' || { echo "FAIL: torch/CUDA not usable with $PY"; exit 99; }
import torch
assert torch.cuda.is_available(), "no CUDA GPU visible"
for i in range(torch.cuda.device_count()):
    free, total = torch.cuda.mem_get_info(i)
    print(f"GPU {i}: {torch.cuda.get_device_name(i)}, {total / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free, "
          f"bf16={torch.cuda.is_bf16_supported()}")
for name in ("transformers", "trl", "peft", "accelerate", "bitsandbytes", "deepspeed", "liger_kernel", "flash_attn"):
    try:
        print(name, getattr(__import__(name), "__version__", "installed"))
    except Exception as exc:  # noqa: BLE001
        print(name, "missing:", type(exc).__name__)
PY
NGPU=$("$PY" -c "import torch; print(torch.cuda.device_count())")
has deepspeed && HAS_DS=1 || HAS_DS=0

train() {  # train NAME [--set k=v ...]: a short CUDA run through the job manager; PASS when it succeeds
  local name=$1; shift
  "$PY" -m studio train --preset cpu-qlora-sft --model "$MODEL" --data "$DATA" --name "$name" \
    --set resources.device=cuda --set max_steps=6 --set save_steps=3 --set precision=auto "$@"
}
ranks_ok() {  # ranks_ok NAME WORLD: the run succeeded, each rank on its own GPU, the adapter saved
  test -f "$RUNS/$1/adapter/adapter_model.safetensors" && "$PY" bench/rank_check.py devices "$RUNS/$1" "$2"
}
on_all() {  # on_all NAME [--set ...]: a LoRA run with one process per visible GPU, checked rank by rank
  local name=$1; shift
  check train "$name" --set method=lora --set processes="$NGPU" "$@"
  check ranks_ok "$name" "$NGPU"
}

if want env; then
  step "estimate on this GPU"
  check "$PY" -m studio estimate --preset cpu-qlora-sft --model "$MODEL" --data "$DATA" --set resources.device=cuda
  check "$PY" -m studio estimate --preset qlora-7b-24gb --gpu-memory 24GiB
  check "$PY" -m studio estimate --preset full-sft-8gpu --gpu-memory 80GiB --gpus 8
fi

if want single; then
  step "QLoRA on CUDA (single process)"
  check train gpu-qlora
  check test -f "$RUNS/gpu-qlora/adapter/adapter_model.safetensors"
  step "one process through accelerate launch"
  check train gpu-launch1 --set resources.launcher=accelerate
  check test -f "$RUNS/gpu-launch1/accelerate_config.yaml"
  check ranks_ok gpu-launch1 1
fi

if want strategies; then
  if [ "$NGPU" -ge 2 ]; then
    step "$NGPU GPUs: DDP, FSDP, FSDP + CPU offload"
    on_all gpu-ddp --set strategy=ddp
    on_all gpu-fsdp --set strategy=fsdp
    on_all gpu-fsdp-offload --set strategy=fsdp --set offload=all
    if [ "$HAS_DS" = 1 ]; then
      step "$NGPU GPUs: DeepSpeed ZeRO-1/2/3 (zero.Init under ZeRO-3), with offload"
      on_all gpu-zero1 --set strategy=zero1
      on_all gpu-zero2 --set strategy=zero2 --set offload=optimizer
      on_all gpu-zero3 --set strategy=zero3
      check grep -q '"stage": 3' "$RUNS/gpu-zero3/deepspeed_config.json"
      on_all gpu-zero3-offload --set strategy=zero3 --set offload=all
    else
      echo "SKIP: deepspeed not installed: ZeRO runs skipped (pip install deepspeed)"
    fi
    step "devices=1: GPU 1 alone"
    check train gpu-pick1 --set method=lora --set devices=1 --set resources.launcher=accelerate
    check ranks_ok gpu-pick1 1
    check grep -q '"cuda_visible_devices": "1"' "$RUNS/gpu-pick1/devices/rank-0.json"
  else
    echo "SKIP: 1 GPU: multi-GPU runs skipped (the 1-process accelerate launch covers the launch path)"
    if [ "$HAS_DS" = 1 ]; then
      step "1 GPU: ZeRO-3 with parameter offload (one process)"
      check train gpu-zero3-1 --set method=lora --set strategy=zero3 --set offload=all
      check ranks_ok gpu-zero3-1 1
    fi
  fi
fi

if want qlora && [ "$NGPU" -ge 2 ]; then
  step "$NGPU GPUs: QLoRA with DDP and with FSDP"
  check train gpu-qlora-ddp --set processes="$NGPU"
  check ranks_ok gpu-qlora-ddp "$NGPU"
  check train gpu-qlora-fsdp --set processes="$NGPU" --set strategy=fsdp
  check test -f "$RUNS/gpu-qlora-fsdp/adapter/adapter_model.safetensors"
fi

if want kernels; then
  step "fused kernels: tokens/s against the plain run (LoRA, 40 steps, batch 8, 512 tokens)"
  speed() {  # speed NAME [--set ...]: a longer one-GPU run; prints its tokens/s
    local name=$1; shift
    check train "$name" --set method=lora --set max_steps=40 --set batch_size=8 --set max_length=512 \
      --set logging_steps=5 --set save_steps=1000 "$@"
    [ -f "$RUNS/$name/metrics.jsonl" ] && echo "$name: $("$PY" bench/rank_check.py tokens "$RUNS/$name") tokens/s"
  }
  speed gpu-plain
  if has liger_kernel; then
    speed gpu-liger --set liger=true
    check grep -q "liger: on" "$RUNS/gpu-liger/worker.log"
  else
    echo "SKIP: liger-kernel not installed (pip install liger-kernel)"
  fi
  if has flash_attn; then
    speed gpu-flash --set flash_attention=true --set model.dtype=bfloat16
    check grep -q "flash-attention: on" "$RUNS/gpu-flash/worker.log"
  else
    echo "SKIP: flash-attn not installed (pip install flash-attn)"
  fi
  if has liger_kernel && has flash_attn; then
    speed gpu-liger-flash --set liger=true --set flash_attention=true --set model.dtype=bfloat16
  fi
fi

if want memory; then
  step "estimate vs measured GPU memory"
  check "$PY" bench/memory.py --methods lora,qlora,full,dora --steps 4
fi

echo
echo "gpu_check: $FAIL failure(s); workspace $STUDIO_WORKSPACE"
exit "$FAIL"
