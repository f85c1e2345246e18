"""Multi-process launch: accelerate / DeepSpeed config generation, and real launches on the CPU.

No GPU here: the configs are checked as files (and as accelerate reads them), and the whole launch
path (worker -> accelerate launch -> rank processes -> artifacts) runs for real with CPU processes.
`bench/gpu_check.sh` repeats it on a CUDA machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import tiny_spec
from studio.errors import StudioError
from studio.runs import start_training
from studio.spec import build_spec
from studio.train import launch


def gpu_spec(identity_data, **resources) -> object:
    raw = tiny_spec(identity_data)
    raw["resources"] = {"device": "cuda", **resources}
    raw["training"].update(precision="bf16", batch_size=4, grad_accum=2, max_grad_norm=0.5)
    return build_spec(raw)


def test_single_process_runs_do_not_use_the_launcher(identity_data):
    assert not launch.uses_launcher(build_spec(tiny_spec(identity_data)))
    assert launch.uses_launcher(gpu_spec(identity_data, num_gpus=2))
    assert launch.uses_launcher(gpu_spec(identity_data, launcher="accelerate"))


def test_multi_gpu_ddp_config(tmp_path, identity_data):
    spec = gpu_spec(identity_data, num_gpus=4)
    files = launch.write_configs(spec, tmp_path)
    assert set(files) == {"accelerate"}
    cfg = yaml.safe_load(files["accelerate"].read_text())
    assert cfg["distributed_type"] == "MULTI_GPU" and cfg["num_processes"] == 4
    assert cfg["mixed_precision"] == "bf16" and cfg["use_cpu"] is False
    assert not (tmp_path / launch.DEEPSPEED_FILE).exists()
    assert list(tmp_path.glob("*.tmp*")) == []  # written atomically, nothing half-written left


@pytest.mark.parametrize("zero", ["zero2", "zero3"])
def test_deepspeed_config(tmp_path, identity_data, zero):
    spec = gpu_spec(identity_data, num_gpus=8, deepspeed=zero)
    files = launch.write_configs(spec, tmp_path)
    cfg = yaml.safe_load(files["accelerate"].read_text())
    ds = json.loads(files["deepspeed"].read_text())
    assert cfg["distributed_type"] == "DEEPSPEED"
    assert cfg["deepspeed_config"]["deepspeed_config_file"] == str(files["deepspeed"])
    assert cfg["deepspeed_config"]["zero3_init_flag"] is (zero == "zero3")
    assert ds["zero_optimization"]["stage"] == int(zero[-1])
    assert ds["train_micro_batch_size_per_gpu"] == 4 and ds["gradient_accumulation_steps"] == 2
    assert ds["train_batch_size"] == 4 * 2 * 8
    assert ds["gradient_clipping"] == 0.5 and ds["bf16"]["enabled"] and not ds["fp16"]["enabled"]
    assert ("stage3_gather_16bit_weights_on_model_save" in ds["zero_optimization"]) is (zero == "zero3")
    assert "auto" not in json.dumps(ds)


def test_accelerate_reads_the_generated_config(tmp_path, identity_data):
    """accelerate's own loader accepts the file (what `accelerate launch --config_file` does first)."""
    from accelerate.commands.config.config_args import load_config_from_file

    for resources in ({"num_gpus": 2}, {"num_gpus": 8, "deepspeed": "zero3"}, {"launcher": "accelerate"}):
        folder = tmp_path / "-".join(map(str, resources.values()))
        files = launch.write_configs(gpu_spec(identity_data, **resources), folder)
        loaded = load_config_from_file(str(files["accelerate"]))
        assert loaded.num_processes == resources.get("num_gpus", 1)
        assert loaded.distributed_type.value == yaml.safe_load(files["accelerate"].read_text())["distributed_type"]


def test_deepspeed_needs_gpus(tmp_path, identity_data):
    raw = tiny_spec(identity_data)
    raw["resources"] = {"device": "cpu", "num_gpus": 2, "deepspeed": "zero2"}
    with pytest.raises(StudioError, match="over CUDA GPUs"):
        launch.write_configs(build_spec(raw), tmp_path)


def test_launch_command_runs_this_module(tmp_path, identity_data):
    cmd = launch.command(gpu_spec(identity_data, num_gpus=2), tmp_path / launch.ACCELERATE_FILE, "job-1")
    assert cmd[1:5] == ["-m", "accelerate.commands.launch", "--config_file", str(tmp_path / launch.ACCELERATE_FILE)]
    assert cmd[-3:] == ["-m", "studio.jobs.ranks", "job-1"]
    raw = tiny_spec(identity_data)
    raw["resources"] = {"device": "cpu", "num_gpus": 2}
    cpu = launch.command(build_spec(raw), tmp_path / launch.ACCELERATE_FILE, "job-1")
    assert cpu[1:3] == ["-m", "torch.distributed.run"] and "--nproc-per-node=2" in cpu


def _launched_run(manager, identity_data, processes: int):
    raw = tiny_spec(identity_data, max_steps=4, save_steps=2, batch_size=2, max_length=64)
    raw["resources"] = {"device": "cpu", "num_gpus": processes, "launcher": "accelerate"}
    job = start_training(manager, build_spec(raw))
    done = manager.wait(job.id, timeout=600)
    assert done.state == "succeeded", done.error
    run_dir = Path(done.run_dir)
    assert (run_dir / launch.ACCELERATE_FILE).is_file()
    assert json.loads((run_dir / launch.RESULT_FILE).read_text())["artifacts"] == done.artifacts
    assert (Path(done.artifacts["adapter"]) / "adapter_model.safetensors").is_file()
    assert json.loads((run_dir / "summary.json").read_text())["global_step"] == 4
    return run_dir


def test_one_process_through_accelerate_launch(manager, identity_data, tiny_model):
    """The launcher path end to end: worker -> accelerate launch -> rank 0 -> adapter + result file."""
    run_dir = _launched_run(manager, identity_data, 1)
    assert not (run_dir / launch.RANKS_DIR).exists()
    assert "launching 1 training process" in (run_dir / "worker.log").read_text()


@pytest.mark.slow
def test_two_cpu_processes_train_one_model(manager, identity_data, tiny_model):
    """Two ranks (gloo on the CPU): only rank 0 writes the run's files; rank 1 shares the checkpoints."""
    run_dir = _launched_run(manager, identity_data, 2)
    rank1 = run_dir / launch.RANKS_DIR / "rank-1"
    assert (rank1 / "checkpoints").is_symlink()
    assert (rank1 / "checkpoints").resolve() == (run_dir / "checkpoints").resolve()
    assert not (rank1 / launch.RESULT_FILE).exists()
