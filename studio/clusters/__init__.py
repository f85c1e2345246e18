"""Clusters studio jobs can run on: Ray (Jobs API; Ray Train for several processes) and Slurm (sbatch).

`registry` keeps the workspace's clusters, `ray` and `slurm` talk to each engine, `submit` is the worker
command they run. The job manager's side (submit, reconcile, cancel) is `studio.jobs.remote`; the worker
on the cluster is `studio.jobs.remote_worker`; Ray Train ranks are `studio.train.ray_train`.
Nothing here imports ray at module level.
"""
