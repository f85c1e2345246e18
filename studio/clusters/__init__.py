"""Running studio jobs on clusters: Ray (Jobs API, Ray Train) and Slurm (sbatch).

`registry` keeps the workspace's clusters, `remote` is what the job manager calls for a job whose
spec names one, `ray` and `slurm` talk to each engine. Nothing here imports ray at module level.
"""
