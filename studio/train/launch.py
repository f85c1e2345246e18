"""Multi-process training: `accelerate launch`, one process per GPU (`resources`: devices, processes,
strategy ddp|fsdp|zero1|zero2|zero3, offload, nodes; see `plan`).

The job's worker stays the owner of the run. It writes an accelerate config (with FSDP settings, or a
DeepSpeed ZeRO JSON beside it) atomically into the run folder, starts `accelerate launch` as its child
and waits. The child and every rank stay in the worker's process group, so cancelling the job
(SIGTERM to the group, then SIGKILL) reaches all of them, and a rank that stops at a step boundary
lets the others stop too. Inside a Ray job the ranks are Ray Train workers instead
(`studio.train.ray_train`, chosen in `studio.train.job`); on Slurm, `srun accelerate launch` on every node (`studio.clusters.slurm`).

Each rank process runs `studio.jobs.ranks` (a job worker of its own: it rebuilds the job's context),
which trains through `run_rank` here: the same recipe as a single-process run (`studio.train.runner.train`),
after `prepare_rank`: its own GPU (LOCAL_RANK), ZeRO-3's config registered before the model loads (so
from_pretrained partitions it: zero.Init), whole weights gathered before the adapter is saved under
ZeRO-3/FSDP, and its device recorded in `devices/rank-N.json`. Rank 0 runs in the run folder; the
other ranks in `ranks/rank-N/`, whose `checkpoints` links to the shared checkpoint folder (the Trainer
writes its per-rank files there), so only rank 0 writes the files users keep: progress, metrics, the
adapter. Rank 0 reports its artifacts, or its error, in `launch_result.json`, which the worker returns
or raises.

`resources.launcher: accelerate` takes this path with a single process too (it checks the launch on a
one-GPU machine), as do picked `devices` and a sharding strategy on one GPU (e.g. ZeRO-3 offload).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ..atomic import write_json, write_yaml
from ..errors import JobCancelled, StudioError

ACCELERATE_FILE = "accelerate_config.yaml"
DEEPSPEED_FILE = "deepspeed_config.json"
RESULT_FILE = "launch_result.json"
RANKS_DIR = "ranks"
DEVICES_DIR = "devices"
RANK_MODULE = "studio.jobs.ranks"  # what each rank runs: `python -m RANK_MODULE JOB_ID`
RAY_ENV = "STUDIO_ON_RAY"  # set for a Ray job's worker: its ranks start through Ray Train (ray_train.py)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How many processes, on which devices, sharing the work how: read from `resources` once."""
    processes: int  # per machine
    nodes: int
    strategy: str  # ddp | fsdp | zero1 | zero2 | zero3
    offload: str  # none | optimizer | all
    devices: tuple[int, ...]  # GPU indices ((): all visible / the first `processes`)
    cpu: bool

    @property
    def world(self) -> int:
        return self.processes * self.nodes

    @property
    def zero(self) -> int:
        return int(self.strategy[-1]) if self.strategy.startswith("zero") else 0


def plan(spec) -> Plan:
    """The launch plan, with every contradiction in `resources` reported before anything starts."""
    r = spec.resources
    devices = tuple(int(d) for d in r.devices.replace(" ", "").split(",") if d)
    if len(set(devices)) != len(devices):
        raise StudioError(key="resources.devices_repeat", devices=r.devices)
    processes = r.processes or len(devices) or r.num_gpus
    cpu = r.device == "cpu"
    if devices and not cpu and processes != len(devices):
        raise StudioError(key="resources.devices_processes", devices=r.devices, count=len(devices),
                          processes=processes)
    strategy = "ddp" if r.strategy == "auto" else r.strategy
    if cpu and strategy != "ddp":
        raise StudioError(key="resources.needs_cuda", strategy=strategy)
    if r.offload != "none" and strategy == "ddp":
        raise StudioError(key="resources.offload_needs_sharding", offload=r.offload)
    if r.offload == "all" and strategy in ("zero1", "zero2"):
        raise StudioError(key="resources.param_offload_zero3", strategy=strategy)
    return Plan(processes=processes, nodes=r.nodes, strategy=strategy, offload=r.offload, devices=devices, cpu=cpu)


def uses_launcher(spec) -> bool:
    p = plan(spec)
    picked = bool(p.devices) and not p.cpu  # only the launch makes just the picked GPUs visible
    return p.world > 1 or p.strategy != "ddp" or picked or spec.resources.launcher == "accelerate"


def _mixed_precision(spec) -> str:
    precision = spec.training.precision
    if spec.resources.device == "cpu" or precision == "fp32":
        return "no"
    return "fp16" if precision == "fp16" else "bf16"


def deepspeed_config(spec) -> dict:
    """A ZeRO-1/2/3 config with the run's own numbers (no "auto" left for anyone to guess)."""
    t, p = spec.training, plan(spec)
    precision = _mixed_precision(spec)
    zero: dict = {"stage": p.zero, "overlap_comm": True, "contiguous_gradients": True}
    if p.offload in ("optimizer", "all"):
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": True}
    if p.offload == "all":
        zero["offload_param"] = {"device": "cpu", "pin_memory": True}
    if p.zero == 3:
        # whole 16-bit weights gathered on rank 0 when the model is saved
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "train_batch_size": t.batch_size * t.grad_accum * p.world,
        "gradient_clipping": t.max_grad_norm,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16"},
        "zero_optimization": zero,
        "steps_per_print": 10 ** 9,
        "wall_clock_breakdown": False,
    }


def fsdp_config(spec) -> dict:
    """Full sharding through accelerate, as peft documents it for LoRA and QLoRA: one FSDP unit per
    decoder layer, weights loaded once on rank 0 and broadcast (cpu_ram_efficient_loading), optional
    CPU offload of the sharded weights. use_orig_params keeps the model's own parameters (frozen base and
    trainable adapter in the same unit), which the adapter is saved from."""
    return {
        "fsdp_version": 1,
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_backward_prefetch": "BACKWARD_PRE",
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_forward_prefetch": False,
        "fsdp_offload_params": plan(spec).offload != "none",
        "fsdp_sharding_strategy": "FULL_SHARD",
        "fsdp_state_dict_type": "SHARDED_STATE_DICT",
        "fsdp_sync_module_states": True,
        "fsdp_use_orig_params": True,
        "fsdp_activation_checkpointing": False,
    }


def accelerate_config(spec, deepspeed_file: Path | None) -> dict:
    p = plan(spec)
    if deepspeed_file is not None:
        kind = "DEEPSPEED"
    elif p.strategy == "fsdp":
        kind = "FSDP"
    elif p.world > 1:
        kind = "MULTI_CPU" if p.cpu else "MULTI_GPU"
    else:
        kind = "NO"
    config = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": kind,
        "num_processes": p.world,
        "num_machines": p.nodes,
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": _mixed_precision(spec),
        "use_cpu": p.cpu,
        "main_process_port": 0,  # a free port, so two runs never collide
        "rdzv_backend": "static" if p.nodes == 1 else "c10d",
        "same_network": True,
        "downcast_bf16": "no",
    }
    if not p.cpu:
        config["gpu_ids"] = ",".join(map(str, p.devices)) if p.devices else "all"
    if deepspeed_file is not None:
        config["deepspeed_config"] = {"deepspeed_config_file": str(deepspeed_file),
                                      "zero3_init_flag": p.zero == 3}
    if kind == "FSDP":
        config["fsdp_config"] = fsdp_config(spec)
    return config


def write_configs(spec, run_dir: Path) -> dict[str, Path]:
    """The launch files, written atomically into the run folder (kept there: they document the run)."""
    run_dir = Path(run_dir)
    files: dict[str, Path] = {}
    ds_path = None
    if plan(spec).zero:
        ds_path = write_json(run_dir / DEEPSPEED_FILE, deepspeed_config(spec))
        files["deepspeed"] = ds_path
    files["accelerate"] = write_yaml(run_dir / ACCELERATE_FILE, accelerate_config(spec, ds_path))
    return files


def command(spec, config_file: Path, job_id: str) -> list[str]:
    """accelerate launch; several CPU processes go straight to torch.distributed.run (what accelerate
    runs for several GPUs: its own CPU path expects an MPI launcher), e.g. to test DDP without GPUs."""
    entry = ["-m", RANK_MODULE, job_id]
    p = plan(spec)
    if p.cpu and p.processes > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={p.processes}", *entry]
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file), *entry]


def child_env(spec) -> dict:
    """The launch's environment: only the chosen GPUs are visible to it (accelerate's gpu_ids does the
    same; torch.distributed.run does not read it)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    devices = plan(spec).devices
    if devices and spec.resources.device != "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
    return env


# ------------------------------------------------------------------------- the worker's side

def launch(spec, ctx) -> dict:
    """Run the training processes under the job's worker and return rank 0's artifacts."""
    run_dir = ctx.run_dir
    files = write_configs(spec, run_dir)
    result_path = run_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    cmd = command(spec, files["accelerate"], ctx.job.id)
    p = plan(spec)
    ctx.events.log(f"launching {p.world} training process(es), {p.strategy}"
                   f"{', offload ' + p.offload if p.offload != 'none' else ''}: "
                   f"{'torch.distributed.run' if p.cpu and p.processes > 1 else 'accelerate launch'} "
                   f"--config_file {files['accelerate'].name}")
    env = child_env(spec)
    ctx.cooperative = True  # a SIGTERM reaches the ranks too (same process group): wait for them to stop
    proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdin=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.5)
    ctx.cooperative = False
    result = json.loads(result_path.read_text(encoding="utf-8")) if result_path.is_file() else {}
    if ctx.cancel_requested or result.get("cancelled"):
        raise JobCancelled()
    if result.get("error"):
        raise StudioError.from_record(result.get("error_record") or {"message": result["error"]})
    if proc.returncode != 0 or "artifacts" not in result:
        raise StudioError(key="resources.launch_failed", code=proc.returncode, log=str(run_dir / "worker.log"))
    return result["artifacts"]


# --------------------------------------------------------------------------- each rank's side

def _add_callback(callback) -> None:
    """Every Trainer this rank builds gets `callback` (the recipe builds its trainer itself)."""
    import transformers.trainer as hf_trainer

    hf_trainer.DEFAULT_CALLBACKS = [*hf_trainer.DEFAULT_CALLBACKS, callback]


def _gather_zero3_on_train_end() -> None:
    """Under ZeRO-3 each rank holds a slice of every weight: gather them before the adapter is saved."""
    from transformers import TrainerCallback

    class GatherZero3(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            import deepspeed

            params = [p for p in model.parameters() if hasattr(p, "ds_id")]
            with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                full = {id(p): p.data.detach().clone() for p in params}
            for p in params:
                p.data = full[id(p)]

    _add_callback(GatherZero3)


def _gather_fsdp_on_train_end() -> None:
    """Under FSDP the model's own parameters (use_orig_params) are shards: gather them whole before the
    adapter is saved, the same way as under ZeRO-3."""
    from transformers import TrainerCallback

    class GatherFSDP(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

            wrapped = kwargs.get("trainer_model") or model
            roots = [m for m in wrapped.modules() if isinstance(m, FSDP)] if wrapped is not None else []
            if not roots:
                return
            with FSDP.summon_full_params(roots[0], writeback=False, offload_to_cpu=True):
                full = {id(p): p.detach().clone() for p in model.parameters()}
            for p in model.parameters():
                p.data = full[id(p)]

    _add_callback(GatherFSDP)


_DS_CONFIG_ALIVE: list = []  # transformers holds the DeepSpeed config by weak reference


def _zero3_init() -> None:
    """Make from_pretrained build the model partitioned (zero.Init): transformers only does so once a
    DeepSpeed ZeRO-3 config is registered, which TrainingArguments would do, but only after the recipe
    has loaded the model. Register the launch's config (accelerate passes it in the environment) first."""
    from accelerate.utils import DeepSpeedPlugin

    plugin = DeepSpeedPlugin()  # reads ACCELERATE_DEEPSPEED_CONFIG_FILE / ZERO3_INIT from accelerate launch
    plugin.set_deepspeed_weakref()
    _DS_CONFIG_ALIVE.append(plugin)


def _report_device(run_dir: Path, rank: int, offloaded: bool = False) -> None:
    """Which device this rank computes on, in devices/rank-N.json (bench/gpu_check.sh asserts on it)."""
    import torch
    from transformers import TrainerCallback

    local = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)

    class ReportDevice(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            # under ZeRO-3 a parameter is an empty placeholder and its shard is `ds_tensor`
            params = [getattr(p, "ds_tensor", p) for p in model.parameters()] if model is not None else []
            params = [p for p in params if p.numel() > 0]
            write_json(run_dir / DEVICES_DIR / f"rank-{rank}.json", {
                "rank": rank, "local_rank": local, "world_size": int(os.environ.get("WORLD_SIZE", "1")),
                "cuda_current_device": torch.cuda.current_device() if torch.cuda.is_available() else None,
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "param_device": str(params[0].device) if params else None,
                "args_device": str(args.device), "offloaded": offloaded})

    _add_callback(ReportDevice)


def prepare_rank(spec, run_dir: Path, rank: int) -> None:
    """What a rank needs before the recipe loads the model, for the run's strategy."""
    strategy = plan(spec).strategy
    _report_device(Path(run_dir), rank, offloaded=plan(spec).offload == "all")
    if strategy == "zero3":
        _zero3_init()
        _gather_zero3_on_train_end()
    elif strategy == "fsdp":
        _gather_fsdp_on_train_end()


def run_rank(spec, ctx, rank: int, shared_run_dir: Path) -> tuple[dict, int]:
    """Train as one rank; returns (what rank 0 reports in launch_result.json, exit code)."""
    from .runner import train

    prepare_rank(spec, shared_run_dir, rank)
    result: dict = {}
    code = 0
    try:
        result["artifacts"] = train(spec, ctx)
    except JobCancelled:
        result["cancelled"] = True
    except StudioError as exc:
        result["error"] = exc.one_line()
        result["error_record"] = exc.record()  # so the job shows it in the reader's language
        code = 1
    except BaseException as exc:  # noqa: BLE001 - the worker must learn why
        result["error"] = f"rank {rank}: {type(exc).__name__}: {exc}"[:2000]
        code = 1
        import traceback

        traceback.print_exc()
    if ctx.cancel_requested:
        result["cancelled"] = True
    if rank == 0:
        write_json(Path(shared_run_dir) / RESULT_FILE, result)
    return result, code
