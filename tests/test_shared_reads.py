"""Many tabs polling one job share one read of its files (studio/jobs/shared_reads.py), see every change
at their next tick, and the shared reads stay bounded however many jobs are shown."""

from __future__ import annotations

from studio.atomic import write_json
from studio.jobs import shared_reads
from studio.jobs.events import PROGRESS, Events
from studio.jobs.procs import LOG_NAME
from studio.ui import job_panel
from studio.ui.context import Studio
from studio.ui.i18n import Translator

PLOT, LOG = 2, 3  # a panel with one curve: [picker, progress, loss plot, log, timer, finished]


def test_tabs_share_one_read_until_the_job_writes(workspace, manager):
    studio = Studio(workspace=workspace, manager=manager, t=Translator("en"))
    cfg = job_panel.Config(kinds=("sleep",), curves=("loss",))
    job = manager.submit("sleep", {"steps": 2, "step_seconds": 0.01})
    manager.wait(job.id, timeout=60)
    shared_reads.clear()
    first, second = (job_panel.on_tick(studio, cfg, job.id) for _ in range(2))
    assert "counting from 0 to 2" in first[LOG]
    assert second[LOG] is first[LOG]  # the second tab got the first tab's read, not a read of its own
    assert second[PLOT] is first[PLOT] and first[PLOT].empty

    run_dir = manager.get(job.id).run_dir
    Events(run_dir).metric({"step": 1, "loss": 2.5})
    with open(f"{run_dir}/{LOG_NAME}", "a", encoding="utf-8") as fh:
        fh.write("one more line\n")
    third = job_panel.on_tick(studio, cfg, job.id)
    assert third[LOG].endswith("one more line") and third[LOG] != first[LOG]
    assert list(third[PLOT]["loss"]) == [2.5]


def test_a_replaced_progress_file_of_the_same_size_is_read_again(tmp_path):
    shared_reads.clear()
    write_json(tmp_path / PROGRESS, {"fraction": 0.5, "message": "step aaaa"})
    assert shared_reads.progress(tmp_path)["message"] == "step aaaa"
    assert shared_reads.progress(tmp_path) is shared_reads.progress(tmp_path)
    write_json(tmp_path / PROGRESS, {"fraction": 0.5, "message": "step bbbb"})  # same size, same second
    assert shared_reads.progress(tmp_path)["message"] == "step bbbb"
    (tmp_path / PROGRESS).unlink()
    assert shared_reads.progress(tmp_path) == {}


def test_shared_reads_stay_bounded(tmp_path):
    shared_reads.clear()
    for i in range(shared_reads.SIZE + 40):
        run = tmp_path / f"run{i}"
        run.mkdir()
        (run / LOG_NAME).write_text(f"job {i}\n", encoding="utf-8")
        assert shared_reads.log_tail(run, 6000) == f"job {i}"
    assert shared_reads.held() == shared_reads.SIZE
    assert shared_reads.log_tail(tmp_path / "run0", 6000) == "job 0"  # dropped, read again when asked
