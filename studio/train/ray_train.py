"""Several training processes, on one machine or many, through Ray Train's TorchTrainer.

Inside a Ray job (see `studio.clusters.ray`) the worker does not run `accelerate launch`: it asks Ray for
`nodes × processes` workers (a GPU each, or a CPU each with gloo), and every worker runs the same rank
code as a local launch (`studio.train.launch.run_rank`, its context from `JobContext.for_rank`): rank 0
in the run folder, the others in `ranks/rank-N/`. Ray sets up torch.distributed and RANK/LOCAL_RANK/
WORLD_SIZE, which the Trainer and `distributed_placement` read, so each rank computes on its own device.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import JobCancelled, StudioError


def _loop(config: dict) -> None:
    """One Ray Train worker: a rank of the studio's training recipe."""
    import ray.train

    from ..spec import build_spec
    from ..workspace import Workspace
    from .launch import run_rank

    rank = ray.train.get_context().get_world_rank()
    job = config["job"]  # the job record itself, pickled by Ray
    workspace = Workspace.open(config["workspace"])
    ctx = config["context_for"](job, workspace, rank)  # JobContext.for_rank, given by the job's worker
    spec = build_spec(job.spec, source=f"job {job.id}")
    result, code = run_rank(spec, ctx, rank, Path(job.run_dir))
    if code and rank == 0:
        raise RuntimeError(result.get("error") or "training failed")


def launch_on_ray(spec, ctx) -> dict:
    """Run the ranks as Ray Train workers and return rank 0's artifacts."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    from .launch import RESULT_FILE, plan

    p = plan(spec)
    run_dir = ctx.run_dir
    ctx.events.log(f"launching {p.world} training process(es) through Ray Train ({p.nodes} node(s) × "
                   f"{p.processes}, {'CPU/gloo' if p.cpu else 'GPU/nccl'}, {p.strategy})")
    if p.strategy != "ddp":
        raise StudioError(key="cluster.ray_strategy", strategy=p.strategy)
    ray.init(address=os.environ.get("RAY_ADDRESS") or "auto", log_to_driver=True)
    worker_resources = {"CPU": 1} if p.cpu else {"CPU": 1, "GPU": 1}
    trainer = TorchTrainer(
        _loop,
        # the rank's context comes from the job's own context class: the train layer never imports the jobs layer
        train_loop_config={"job": ctx.job, "workspace": str(ctx.workspace.root), "context_for": type(ctx).for_rank},
        scaling_config=ScalingConfig(num_workers=p.world, use_gpu=not p.cpu, resources_per_worker=worker_resources),
        torch_config=TorchConfig(backend="gloo" if p.cpu else "nccl"),
        run_config=RunConfig(name=ctx.job.id, storage_path=str(run_dir / "ray_results")),
    )
    ctx.cooperative = False  # a stop request (SIGTERM from Ray) ends fit(); Ray then stops the workers
    try:
        trainer.fit()
    except JobCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray wraps the rank's error
        result = _result(run_dir / RESULT_FILE)
        if result.get("error"):
            raise StudioError.from_record(result.get("error_record") or {"message": result["error"]}) from None
        raise StudioError(key="cluster.ray_train_failed", error=str(exc)[:500]) from None
    result = _result(run_dir / RESULT_FILE)
    if result.get("cancelled") or ctx.cancel_requested:
        raise JobCancelled()
    if result.get("error") or "artifacts" not in result:
        if result.get("error"):
            raise StudioError.from_record(result.get("error_record") or {"message": result["error"]})
        raise StudioError(key="resources.no_result")
    return result["artifacts"]


def _result(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
