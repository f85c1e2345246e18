"""The `train` job's entry: one process (`runner.train`) or one per GPU (`launch.launch`).

Kept apart from both so that neither imports the other back: launch runs `runner.train` in each rank.
"""

from __future__ import annotations

from ..spec import build_spec


def run_job(ctx) -> dict:
    spec = build_spec(ctx.spec, source=f"job {ctx.job.id}")
    from .launch import launch, uses_launcher

    if uses_launcher(spec):  # num_gpus > 1: one process per GPU through accelerate launch
        import os

        from .launch import RAY_ENV

        if os.environ.get(RAY_ENV):  # a Ray job (studio.clusters.ray): the ranks are Ray Train workers
            from .ray_train import launch_on_ray

            return launch_on_ray(spec, ctx)
        return launch(spec, ctx)
    from .runner import train

    return train(spec, ctx)
