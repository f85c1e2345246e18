"""Multi-device launch plans and configs, clusters in the workspace, Slurm scripts (run for real through a
stand-in sbatch), fused-kernel fallbacks. The Ray tests (a real local Ray head) are in test_clusters_ray.py.

No GPU, DeepSpeed or Slurm here: accelerate's own parsers and plugins read the generated files, DeepSpeed's
batch rules are checked as DeepSpeed checks them, and the sbatch script is run by bash through stand-ins
for sbatch/squeue/sacct/scancel (tests/fake_slurm) that execute it on this machine.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import tiny_spec
from studio.clusters import registry, slurm, submit
from studio.jobs import remote
from studio.errors import StudioError
from studio.spec import build_spec
from studio.train import launch

FAKE_SLURM = Path(__file__).parent / "fake_slurm"


def spec_with(identity_data, **resources):
    raw = tiny_spec(identity_data)
    raw["resources"] = {"device": "cuda", **resources}
    raw["training"].update(precision="bf16", batch_size=4, grad_accum=2)
    return build_spec(raw)


# ------------------------------------------------------------------ the launch plan

def test_plan_reads_devices_processes_strategy(identity_data):
    p = launch.plan(spec_with(identity_data, devices="1, 3", strategy="fsdp", offload="all"))
    assert (p.processes, p.devices, p.strategy, p.offload, p.world) == (2, (1, 3), "fsdp", "all", 2)
    assert launch.plan(spec_with(identity_data, num_gpus=4)).processes == 4
    assert launch.plan(spec_with(identity_data, processes=2, nodes=3)).world == 6
    # the old key still works, as the strategy it names
    assert launch.plan(spec_with(identity_data, num_gpus=8, deepspeed="zero3")).strategy == "zero3"
    assert launch.uses_launcher(spec_with(identity_data, strategy="zero3"))  # ZeRO-3 offload on one GPU
    assert not launch.uses_launcher(spec_with(identity_data))
    assert launch.uses_launcher(spec_with(identity_data, devices="1"))  # GPU 1 alone: made visible by the launch


@pytest.mark.parametrize("resources, words", [
    ({"devices": "0,0"}, "names a GPU twice"),
    ({"devices": "0,1", "processes": 3}, "picks 2 GPU(s) but resources.processes is 3"),
    ({"device": "cpu", "processes": 2, "strategy": "zero2"}, "over CUDA GPUs"),
    ({"strategy": "ddp", "offload": "optimizer", "num_gpus": 2}, "needs a sharding strategy"),
    ({"strategy": "zero2", "offload": "all", "num_gpus": 2}, "which zero2 cannot do"),
])
def test_plan_refuses_contradictions(identity_data, resources, words):
    with pytest.raises(StudioError, match=words.replace("(", r"\(").replace(")", r"\)")):
        launch.plan(spec_with(identity_data, **resources))


def test_spec_refuses_bad_devices_and_old_key_conflicts(identity_data):
    with pytest.raises(StudioError, match="devices"):
        spec_with(identity_data, devices="0;1")
    with pytest.raises(StudioError, match="disagree"):
        spec_with(identity_data, deepspeed="zero2", strategy="fsdp")
    spec = build_spec(tiny_spec(identity_data), ["strategy=zero3", "offload=all", "devices=0,1", "liger=true",
                                                  "flash_attention=true", "nodes=2", "processes=2"])
    r = spec.resources
    assert (r.strategy, r.offload, r.devices, r.liger, r.flash_attention, r.nodes, r.processes) == \
        ("zero3", "all", "0,1", True, True, 2, 2)


# ------------------------------------------------------------------ generated configs, read by accelerate

STRATEGIES = [
    ({"num_gpus": 2}, "MULTI_GPU"),
    ({"num_gpus": 4, "strategy": "fsdp"}, "FSDP"),
    ({"num_gpus": 4, "strategy": "fsdp", "offload": "all"}, "FSDP"),
    ({"num_gpus": 2, "strategy": "zero1"}, "DEEPSPEED"),
    ({"num_gpus": 2, "strategy": "zero1", "offload": "optimizer"}, "DEEPSPEED"),
    ({"num_gpus": 8, "strategy": "zero2", "offload": "optimizer"}, "DEEPSPEED"),
    ({"num_gpus": 8, "strategy": "zero3"}, "DEEPSPEED"),
    ({"devices": "2,5", "strategy": "zero3", "offload": "all"}, "DEEPSPEED"),
]


def _validated_launch(config_file: Path):
    """What `accelerate launch --config_file F script.py` does before it starts anything."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", str(config_file), "train.py"])
    args, _, _ = _validate_launch_command(args)
    return args


@pytest.mark.parametrize("resources, kind", STRATEGIES)
def test_accelerate_validates_every_strategy(tmp_path, identity_data, resources, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    spec = spec_with(identity_data, **resources)
    files = launch.write_configs(spec, tmp_path)
    cfg = yaml.safe_load(files["accelerate"].read_text())
    loaded = load_config_from_file(str(files["accelerate"]))
    assert cfg["distributed_type"] == kind == loaded.distributed_type.value
    assert loaded.num_processes == launch.plan(spec).world
    assert cfg["gpu_ids"] == (resources.get("devices", "").replace(" ", "") or "all")
    args = _validated_launch(files["accelerate"])
    assert args.use_deepspeed is (kind == "DEEPSPEED") and args.use_fsdp is (kind == "FSDP")
    assert args.num_processes == launch.plan(spec).world
    if resources.get("devices"):
        assert launch.child_env(spec)["CUDA_VISIBLE_DEVICES"] == "2,5"


@pytest.mark.parametrize("offload", ["none", "all"])
def test_fsdp_plugin_reads_the_config(tmp_path, identity_data, offload, monkeypatch):
    """accelerate turns the file into FSDP_* variables and its FSDP plugin reads them (sync_module_states and
    cpu_ram_efficient_loading are switched off only for building the plugin: with them on it insists on a GPU)."""
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env

    files = launch.write_configs(spec_with(identity_data, num_gpus=2, strategy="fsdp", offload=offload), tmp_path)
    env = prepare_multi_gpu_env(_validated_launch(files["accelerate"]))
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_SYNC_MODULE_STATES"] == "true"
    assert env["FSDP_CPU_RAM_EFFICIENT_LOADING"] == "true"
    for key, value in {**env, "FSDP_SYNC_MODULE_STATES": "false", "FSDP_CPU_RAM_EFFICIENT_LOADING": "false"}.items():
        monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.sharding_strategy.name == "FULL_SHARD"
    assert plugin.cpu_offload.offload_params is (offload == "all")
    assert plugin.use_orig_params is True and plugin.state_dict_type.name == "SHARDED_STATE_DICT"
    assert plugin.auto_wrap_policy is not None


@pytest.mark.parametrize("resources", [r for r, kind in STRATEGIES if kind == "DEEPSPEED"])
def test_deepspeed_config_follows_deepspeeds_rules(tmp_path, identity_data, resources):
    """accelerate's DeepSpeedPlugin reads the JSON; the rules DeepSpeed's own config checker applies to batch
    sizes, precision and offload hold (DeepSpeed itself is not installed here: bench/gpu_check.sh runs it)."""
    from accelerate.utils import DeepSpeedPlugin

    spec = spec_with(identity_data, **resources)
    files = launch.write_configs(spec, tmp_path)
    ds = json.loads(files["deepspeed"].read_text())
    p = launch.plan(spec)
    plugin = DeepSpeedPlugin(hf_ds_config=str(files["deepspeed"]), zero3_init_flag=p.zero == 3)
    assert plugin.zero_stage == p.zero
    off = resources.get("offload", "none")
    assert plugin.offload_optimizer_device == ("cpu" if off != "none" else "none")
    assert plugin.offload_param_device == ("cpu" if off == "all" else "none")
    # DeepSpeed's batch assertion: train_batch_size == micro batch * gradient accumulation * world size
    assert ds["train_batch_size"] == ds["train_micro_batch_size_per_gpu"] * ds["gradient_accumulation_steps"] * p.world
    assert not (ds["bf16"]["enabled"] and ds["fp16"]["enabled"])
    zero = ds["zero_optimization"]
    assert ("offload_param" in zero) <= (zero["stage"] == 3)  # parameter offload is a ZeRO-3 feature
    assert "auto" not in json.dumps(ds)
    cfg = yaml.safe_load(files["accelerate"].read_text())
    assert cfg["deepspeed_config"]["zero3_init_flag"] is (p.zero == 3)


def test_each_rank_loads_onto_its_own_gpu(monkeypatch):
    """The placement rule from_pretrained gets on CUDA: LOCAL_RANK's GPU; nothing under FSDP, and 4-bit
    weights stored in the compute dtype there (peft's QLoRA + FSDP recipe)."""
    import torch
    from transformers import BitsAndBytesConfig

    from studio.models.loading import distributed_placement

    monkeypatch.delenv("ACCELERATE_USE_FSDP", raising=False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert distributed_placement({}) == {"device_map": {"": 3}}
    monkeypatch.delenv("LOCAL_RANK")
    assert distributed_placement({}) == {"device_map": {"": 0}}
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert distributed_placement({}) == {}
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
    assert distributed_placement({"quantization_config": q}) == {"dtype": torch.bfloat16}
    assert q.bnb_4bit_quant_storage == torch.bfloat16


# ------------------------------------------------------------------ clusters in the workspace, CLI

def _cli(workspace, *args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "studio", "--workspace", str(workspace.root), *args],
                          capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ))


def test_cluster_add_list_remove(workspace):
    out = _cli(workspace, "cluster", "add", "farm", "--ray", "http://127.0.0.1:8265/")
    assert out.returncode == 0, out.stderr
    assert _cli(workspace, "cluster", "add", "hpc", "--slurm", "--partition", "gpu", "--time", "12:00:00",
                "--gpus-per-node", "8").returncode == 0
    listed = json.loads(_cli(workspace, "cluster", "list", "--json").stdout)
    assert {(c["name"], c["kind"]) for c in listed} == {("farm", "ray"), ("hpc", "slurm")}
    assert registry.get(workspace.root, "farm").address == "http://127.0.0.1:8265"
    again = _cli(workspace, "cluster", "add", "farm", "--ray", "http://127.0.0.1:9999")
    assert again.returncode == 2 and "already exists" in again.stderr and "--replace" in again.stderr
    bad = _cli(workspace, "cluster", "add", "x", "--ray", "127.0.0.1:8265")
    assert bad.returncode == 2 and "not a Ray Jobs API address" in bad.stderr
    assert _cli(workspace, "cluster", "remove", "farm").returncode == 0
    assert [c["name"] for c in json.loads(_cli(workspace, "cluster", "list", "--json").stdout)] == ["hpc"]
    zh = _cli(workspace, "cluster", "remove", "farm", env=dict(os.environ, STUDIO_LANG="zh"))
    assert zh.returncode == 2 and "farm" in zh.stderr


def test_train_on_an_unknown_cluster_is_refused_before_a_job_exists(workspace, identity_data, tmp_path):
    spec = tmp_path / "run.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec(identity_data)))
    out = _cli(workspace, "train", str(spec), "--cluster", "nowhere")
    assert out.returncode == 2 and "no cluster named 'nowhere'" in out.stderr
    assert not list(workspace.runs.iterdir())


def test_unreachable_ray_cluster_fails_the_job_clearly(workspace, manager):
    from raycluster import free_port

    registry.add(workspace.root, registry.Cluster(name="gone", kind="ray",
                                                  address=f"http://127.0.0.1:{free_port()}"))
    job = manager.submit("sleep", {"steps": 1, "cluster": "gone"})
    job = manager.get(job.id)
    assert job.state == "failed" and "does not answer" in job.error and job.pool == "cluster:gone"


# ------------------------------------------------------------------ Slurm

def _slurm_job(workspace, spec: dict, kind: str = "train"):
    from studio.jobs.store import Job

    run_dir = workspace.runs / "r"
    run_dir.mkdir(parents=True, exist_ok=True)
    return Job(id="train-1", kind=kind, spec=spec, state="running", pool="cluster:hpc", run_dir=str(run_dir),
               created_at=0, updated_at=0, attempts=1)


def test_sbatch_script_for_a_multi_node_run(workspace, identity_data):
    """Nodes, GPUs per node, time, partition; `srun accelerate launch` with the rendezvous from Slurm's
    variables, which accelerate's own parser accepts once Slurm has filled them in."""
    from accelerate.commands.launch import launch_command_parser

    cluster = registry.add(workspace.root, registry.Cluster(name="hpc", kind="slurm", partition="gpu",
                                                            time="12:00:00", account="lab"))
    spec = spec_with(identity_data, processes=4, nodes=2, strategy="zero3", cluster="hpc")
    job = _slurm_job(workspace, spec.model_dump(mode="json"))
    text = slurm.script(cluster, job, submit.command(cluster, job), submit.job_env(cluster, workspace.root), spec)
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    heads = dict(line[len("#SBATCH --"):].split("=", 1) for line in text.splitlines() if line.startswith("#SBATCH"))
    assert heads["nodes"] == "2" and heads["gpus-per-node"] == "4" and heads["time"] == "12:00:00"
    assert heads["partition"] == "gpu" and heads["account"] == "lab" and heads["ntasks-per-node"] == "1"
    assert heads["output"] == f"{job.run_dir}/worker.log" and heads["chdir"] == job.run_dir
    assert 'MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"' in text
    srun = next(line for line in text.splitlines() if line.startswith("srun "))
    inner = shlex.split(srun)[-1]
    assert inner.startswith("exec ") and "accelerate.commands.launch" in inner
    filled = (inner.replace("$((SLURM_NNODES * 4))", "8").replace("$SLURM_NNODES", "2")
              .replace("$SLURM_NODEID", "1").replace("$MASTER_ADDR", "node7").replace("$MASTER_PORT", "29500"))
    argv = shlex.split(filled)[1:]
    args = launch_command_parser().parse_args(argv[argv.index("accelerate.commands.launch") + 1:])
    assert (args.num_machines, args.machine_rank, args.num_processes) == (2, 1, 8)
    assert (args.main_process_ip, args.main_process_port, args.rdzv_backend) == ("node7", 29500, "c10d")
    assert args.config_file == f"{job.run_dir}/{launch.ACCELERATE_FILE}"
    assert args.module and args.training_script == "studio.jobs.ranks" and args.training_script_args == [job.id]
    assert text.rstrip().endswith("--collect $launched")
    assert "STUDIO_WORKSPACE=" in text and "SECRET" not in text


def test_sbatch_script_on_cpus_uses_torchrun(workspace, identity_data):
    from torch.distributed.run import get_args_parser

    cluster = registry.Cluster(name="hpc", kind="slurm")
    raw = tiny_spec(identity_data)
    raw["resources"] = {"device": "cpu", "processes": 2, "nodes": 2}
    spec = build_spec(raw)
    line = slurm.launch_line(spec, "/runs/r", "train-1", "python")
    filled = line.replace("$SLURM_NNODES", "2").replace("$SLURM_NODEID", "0").replace("$MASTER_ADDR", "n1") \
        .replace("$MASTER_PORT", "29400")
    argv = shlex.split(filled)[3:]
    args = get_args_parser().parse_args(argv)
    assert (args.nnodes, args.node_rank, args.nproc_per_node, args.master_addr) == ("2", 0, "2", "n1")
    assert args.module and args.training_script == "studio.jobs.ranks"
    assert "#SBATCH --gpus-per-node" not in slurm.script(cluster, _slurm_job(workspace, raw), "true", {}, spec)


def test_cluster_script_command_prints_it(workspace, identity_data, tmp_path):
    registry.add(workspace.root, registry.Cluster(name="hpc", kind="slurm", partition="a100"))
    spec = tmp_path / "run.yaml"
    spec.write_text(yaml.safe_dump(tiny_spec(identity_data)))
    out = _cli(workspace, "cluster", "script", str(spec), "--cluster", "hpc", "--set", "processes=2",
               "--set", "device=cuda")
    assert out.returncode == 0, out.stderr
    assert "#SBATCH --partition=a100" in out.stdout and "srun --kill-on-bad-exit=1" in out.stdout


def test_slurm_without_sbatch_leaves_the_script_to_copy(workspace, manager, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    registry.add(workspace.root, registry.Cluster(name="hpc", kind="slurm"))
    job = manager.get(manager.submit("sleep", {"steps": 1, "cluster": "hpc"}).id)
    script = Path(job.run_dir) / slurm.SCRIPT
    assert job.state == "failed" and "no sbatch" in job.error and str(script) in job.error
    assert script.is_file() and "python" in script.read_text() and "studio.jobs.remote_worker" in script.read_text()


def test_state_mapping():
    assert [slurm.state_of(s) for s in ("PENDING", "RUNNING", "COMPLETED", "CANCELLED by 42", "TIMEOUT",
                                        "OUT_OF_MEMORY", "NODE_FAIL")] == \
        ["running", "running", "succeeded", "cancelled", "failed", "failed", "failed"]


def _wait(manager, job_id, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = manager.get(job_id)
        if job.state in states:
            return job
        time.sleep(0.5)
    return manager.get(job_id)


def test_slurm_job_runs_reconciles_and_cancels(workspace, manager, monkeypatch, tmp_path):
    """The generated script, run by bash through stand-in sbatch/squeue/sacct/scancel: the job's worker
    runs in its run folder, the state comes from squeue then sacct, cancel goes through scancel."""
    monkeypatch.setenv("PATH", f"{FAKE_SLURM}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(tmp_path / "slurm"))
    registry.add(workspace.root, registry.Cluster(name="hpc", kind="slurm"))
    job = manager.submit("sleep", {"steps": 3, "step_seconds": 0.2, "cluster": "hpc"})
    done = _wait(manager, job.id, ("succeeded", "failed", "cancelled", "interrupted"))
    assert done.state == "succeeded", (done.error, (Path(done.run_dir) / "worker.log").read_text()[-2000:])
    assert Path(done.artifacts["result"]).read_text() == "counted to 3\n"
    assert remote.read_handle(done.run_dir)["kind"] == "slurm"
    assert "(sleep) attempt 1 started on" in (Path(done.run_dir) / "worker.log").read_text()
    assert "studio.jobs.remote_worker" in (Path(done.run_dir) / slurm.SCRIPT).read_text()
    long = manager.submit("sleep", {"steps": 400, "step_seconds": 0.2, "cluster": "hpc"})
    assert _wait(manager, long.id, ("running",)).state == "running"
    deadline = time.time() + 60
    while time.time() < deadline and not (Path(long.run_dir) / "counter.json").exists():
        time.sleep(0.3)
    cancelled = manager.cancel(long.id, wait=True)
    assert cancelled.state == "cancelled", cancelled.error


# ------------------------------------------------------------------ fused kernels: switches and fallbacks

def test_kernel_switches_fall_back_with_a_reason_on_cpu(workspace, identity_data, tiny_model, capsys):
    from conftest import train_inline

    raw = tiny_spec(identity_data, max_steps=2)
    raw["resources"] = {"device": "cpu", "liger": True, "flash_attention": True}
    run_dir, artifacts = train_inline(workspace, raw)
    out = capsys.readouterr().out
    assert "liger: off (needs a CUDA GPU; this run is on the cpu)" in out
    assert "flash-attention: off (needs a CUDA GPU; this run is on the cpu)" in out
    assert Path(artifacts["adapter"]).is_dir()


def test_kernel_fallback_when_not_installed():
    from studio.train import kernels

    assert kernels.unavailable("liger", "liger-kernel", "no_such_module_xyz", "cuda") == \
        "liger: off (the liger-kernel package is not installed: pip install liger-kernel)"
    assert kernels.unavailable("x", "x", "json", "cuda") is None


# ------------------------------------------------------------------ memory per GPU follows the strategy

def test_memory_per_device_follows_the_strategy():
    from studio.estimate.sharding import per_device

    w, g, o, layer = 8000, 800, 3200, 100
    on = {s: per_device(w, g, o, s, "none", 4, layer)[0] for s in ("ddp", "zero1", "zero2", "zero3", "fsdp")}
    assert on["ddp"] == {"weights": 8000, "gradients": 1600, "optimizer": 3200}
    assert on["zero1"] == {"weights": 8000, "gradients": 800, "optimizer": 800}
    assert on["zero2"] == {"weights": 8000, "gradients": 200, "optimizer": 800}
    assert on["zero3"] == on["fsdp"] == {"weights": 2200, "gradients": 200, "optimizer": 800}
    gpu, cpu = per_device(w, g, o, "zero3", "all", 4, layer)
    assert gpu == {"weights": 200, "gradients": 200, "optimizer": 0} and cpu == {"optimizer": 800, "weights": 2000}
    gpu, cpu = per_device(w, g, o, "fsdp", "all", 4, layer)
    assert gpu["gradients"] == 0 and cpu["gradients"] == 200
    assert per_device(w, g, o, "zero2", "optimizer", 1, layer) == ({"weights": 8000, "gradients": 800,
                                                                   "optimizer": 0}, {"optimizer": 3200})


def test_estimate_per_gpu_follows_strategy_and_offload(identity_data):
    """The estimate's parts per GPU for the same run under each strategy, on 4 named 80 GB GPUs."""
    from studio import estimate as est

    gpus = est.named_hardware("80GiB", 4, "cuda")
    raw = tiny_spec(identity_data)
    raw.update(model={"name": "tiny-random-llama"}, method="full", method_args={})
    parts = {}
    for strategy, offload in (("ddp", "none"), ("zero2", "none"), ("zero3", "none"), ("fsdp", "none"),
                              ("zero3", "all")):
        raw["resources"] = {"device": "cuda", "processes": 4, "strategy": strategy, "offload": offload}
        e = est.estimate(build_spec(raw), hardware=gpus, suggest=False, quick=True)
        assert e.details["strategy"] == strategy and e.details["devices"] == 4
        parts[strategy, offload] = e.parts
    ddp, z2, z3, fsdp, z3off = (parts[k] for k in parts)
    assert z2["weights"] == ddp["weights"] and z2["gradients"] < ddp["gradients"]
    assert z3["weights"] < z2["weights"] and fsdp["weights"] == z3["weights"]
    assert z3off["optimizer"] == 0 and z3off["weights"] < z3["weights"]
