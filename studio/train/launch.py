"""Multi-process training: `accelerate launch`, one process per GPU, when `resources.num_gpus > 1`.

The job's worker stays the owner of the run. It writes an accelerate config (and a DeepSpeed ZeRO
JSON when `resources.deepspeed` is set) atomically into the run folder, starts `accelerate launch`
as its child and waits. The child and every rank stay in the worker's process group, so cancelling
the job (SIGTERM to the group, then SIGKILL) reaches all of them, and a rank that stops at a step
boundary lets the others stop too.

Every rank runs the same recipe as a single-process run (`studio.train.runner.train`). Rank 0 runs it
in the run folder; the other ranks run it in `ranks/rank-N/`, whose `checkpoints` links to the shared
checkpoint folder (the Trainer writes its per-rank files there), so only rank 0 writes the files users
keep: progress, metrics, the adapter. Rank 0 reports its artifacts, or its error, in
`launch_result.json`, which the worker returns or raises.

`resources.launcher: accelerate` takes this path with a single process too: it checks the launch on a
one-GPU machine. Single-process runs without it never come here.
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


def uses_launcher(spec) -> bool:
    return spec.resources.num_gpus > 1 or spec.resources.launcher == "accelerate"


def _mixed_precision(spec) -> str:
    precision = spec.training.precision
    if spec.resources.device == "cpu" or precision == "fp32":
        return "no"
    return "fp16" if precision == "fp16" else "bf16"


def deepspeed_config(spec) -> dict:
    """A ZeRO-2/3 config with the run's own numbers (no "auto" left for anyone to guess)."""
    t, n = spec.training, spec.resources.num_gpus
    stage = {"zero2": 2, "zero3": 3}[spec.resources.deepspeed]
    precision = _mixed_precision(spec)
    zero: dict = {"stage": stage, "overlap_comm": True, "contiguous_gradients": True}
    if stage == 3:
        # whole 16-bit weights gathered on rank 0 when the model is saved
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return {
        "train_micro_batch_size_per_gpu": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "train_batch_size": t.batch_size * t.grad_accum * n,
        "gradient_clipping": t.max_grad_norm,
        "bf16": {"enabled": precision == "bf16"},
        "fp16": {"enabled": precision == "fp16"},
        "zero_optimization": zero,
        "steps_per_print": 10 ** 9,
        "wall_clock_breakdown": False,
    }


def accelerate_config(spec, deepspeed_file: Path | None) -> dict:
    r = spec.resources
    cpu = r.device == "cpu"
    if deepspeed_file is not None:
        kind = "DEEPSPEED"
    elif r.num_gpus > 1:
        kind = "MULTI_CPU" if cpu else "MULTI_GPU"
    else:
        kind = "NO"
    config = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": kind,
        "num_processes": r.num_gpus,
        "num_machines": 1,
        "machine_rank": 0,
        "main_training_function": "main",
        "mixed_precision": _mixed_precision(spec),
        "use_cpu": cpu,
        "main_process_port": 0,  # a free port, so two runs never collide
        "rdzv_backend": "static",
        "same_network": True,
        "downcast_bf16": "no",
    }
    if not cpu:
        config["gpu_ids"] = "all"
    if deepspeed_file is not None:
        config["deepspeed_config"] = {"deepspeed_config_file": str(deepspeed_file),
                                      "zero3_init_flag": spec.resources.deepspeed == "zero3"}
    return config


def write_configs(spec, run_dir: Path) -> dict[str, Path]:
    """The launch files, written atomically into the run folder (kept there: they document the run)."""
    run_dir = Path(run_dir)
    files: dict[str, Path] = {}
    ds_path = None
    if spec.resources.deepspeed != "none":
        if spec.resources.device == "cpu":
            raise StudioError("resources.deepspeed needs CUDA GPUs", "set resources.deepspeed: none on a CPU")
        ds_path = write_json(run_dir / DEEPSPEED_FILE, deepspeed_config(spec))
        files["deepspeed"] = ds_path
    files["accelerate"] = write_yaml(run_dir / ACCELERATE_FILE, accelerate_config(spec, ds_path))
    return files


def command(spec, config_file: Path, job_id: str) -> list[str]:
    """accelerate launch; several CPU processes go straight to torch.distributed.run (what accelerate
    runs for several GPUs: its own CPU path expects an MPI launcher), e.g. to test DDP without GPUs."""
    entry = ["-m", "studio.train.launch", job_id]
    if spec.resources.device == "cpu" and spec.resources.num_gpus > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone",
                f"--nproc-per-node={spec.resources.num_gpus}", *entry]
    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config_file), *entry]


# ------------------------------------------------------------------------- the worker's side

def launch(spec, ctx) -> dict:
    """Run the training processes under the job's worker and return rank 0's artifacts."""
    run_dir = ctx.run_dir
    files = write_configs(spec, run_dir)
    result_path = run_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    cmd = command(spec, files["accelerate"], ctx.job.id)
    ctx.events.log(f"launching {spec.resources.num_gpus} training process(es): accelerate launch "
                   f"--config_file {files['accelerate'].name}")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    ctx.cooperative = True  # a SIGTERM reaches the ranks too (same process group): wait for them to stop
    proc = subprocess.Popen(cmd, cwd=run_dir, env=env, stdin=subprocess.DEVNULL)
    while proc.poll() is None:
        time.sleep(0.5)
    ctx.cooperative = False
    result = json.loads(result_path.read_text(encoding="utf-8")) if result_path.is_file() else {}
    if ctx.cancel_requested or result.get("cancelled"):
        raise JobCancelled()
    if result.get("error"):
        raise StudioError(result["error"])
    if proc.returncode != 0 or "artifacts" not in result:
        raise StudioError(f"the training processes failed (exit code {proc.returncode})",
                          f"see {run_dir / 'worker.log'} for each rank's output")
    return result["artifacts"]


# --------------------------------------------------------------------------- each rank's side

def _rank() -> int:
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def rank_context(job_id: str, rank: int):
    """The JobContext a rank trains with: the real run folder for rank 0, a private one otherwise."""
    from ..jobs.context import JobContext
    from ..jobs.events import Events
    from ..jobs.secrets import read_secrets
    from ..jobs.store import JobStore
    from ..workspace import Workspace
    from .runner import CHECKPOINTS

    workspace = Workspace.open(os.environ.get("STUDIO_WORKSPACE"))
    job = JobStore(workspace.db_path).get(job_id)
    if job is None:
        raise StudioError(f"job {job_id} not found", "start training through the job manager")
    if rank != 0:
        own = Path(job.run_dir) / RANKS_DIR / f"rank-{rank}"
        own.mkdir(parents=True, exist_ok=True)
        shared = Path(job.run_dir) / CHECKPOINTS
        shared.mkdir(exist_ok=True)
        link = own / CHECKPOINTS
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(shared, own))
        job = dataclasses.replace(job, run_dir=str(own))
    return JobContext(job=job, workspace=workspace, events=Events(Path(job.run_dir)),
                      secrets=read_secrets(workspace.root, job_id))


def _gather_zero3_on_train_end() -> None:
    """Under ZeRO-3 each rank holds a slice of every weight: gather them before the adapter is saved."""
    import transformers.trainer as hf_trainer
    from transformers import TrainerCallback

    class GatherZero3(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            import deepspeed

            params = [p for p in model.parameters() if hasattr(p, "ds_id")]
            with deepspeed.zero.GatheredParameters(params, modifier_rank=None):
                full = {id(p): p.data.detach().clone() for p in params}
            for p in params:
                p.data = full[id(p)]

    hf_trainer.DEFAULT_CALLBACKS = [*hf_trainer.DEFAULT_CALLBACKS, GatherZero3]


def rank_main(job_id: str) -> int:
    from ..jobs.worker import _install_signal_handler
    from ..spec import build_spec
    from .runner import train

    rank = _rank()
    ctx = rank_context(job_id, rank)
    _install_signal_handler(ctx)
    spec = build_spec(ctx.spec, source=f"job {job_id}")
    if spec.resources.deepspeed == "zero3" and spec.resources.num_gpus > 1:
        _gather_zero3_on_train_end()
    result: dict = {}
    code = 0
    try:
        result["artifacts"] = train(spec, ctx)
    except JobCancelled:
        result["cancelled"] = True
    except StudioError as exc:
        result["error"] = exc.one_line()
        code = 1
    except BaseException as exc:  # noqa: BLE001 - the worker must learn why
        result["error"] = f"rank {rank}: {type(exc).__name__}: {exc}"[:2000]
        code = 1
        import traceback

        traceback.print_exc()
    if ctx.cancel_requested:
        result["cancelled"] = True
    if rank == 0:
        write_json(Path(ctx.job.run_dir) / RESULT_FILE, result)
    return code


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: accelerate launch ... -m studio.train.launch JOB_ID", file=sys.stderr)
        sys.exit(2)
    exit_code = rank_main(sys.argv[1])
    sys.stdout.flush()
    os._exit(exit_code)  # threads left by libraries must not keep a finished rank alive
