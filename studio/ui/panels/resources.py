"""Resources panel (Train page): where a run trains — this machine's GPUs or a Ray/Slurm cluster.

`build(studio, target)` renders a cluster picker (this machine or a cluster of the workspace), the GPUs
this machine sees, and a small form to add or remove a cluster. (A Slurm run's sbatch script is in its
run folder, and `studio cluster script` prints it without starting anything.)
The per-run fields (devices, processes, strategy, offload, nodes, liger, flash_attention) are the
spec's own `resources` fields in the Train form; the picker writes `resources.cluster` (`target`, the
form's cluster box). Handlers are module-level functions over plain values (tests call them).
"""

from __future__ import annotations

import gradio as gr

from ...clusters import registry
from ...errors import StudioError

HERE = ""  # the picker's value for "this machine"


def cluster_choices(root, t) -> list[tuple[str, str]]:
    """(label, value) for the picker: this machine first, then the workspace's clusters."""
    out = [(t("resources.this_machine"), HERE)]
    for c in registry.load(root).values():
        out.append((f"{c.name} ({c.kind}: {c.address or c.partition or 'sbatch'})", c.name))
    return out


def gpu_summary(t) -> str:
    """The GPUs this machine sees (asked only when the panel is opened: torch is not imported at start-up)."""
    try:
        import torch
    except ImportError:
        return t("resources.no_gpu")
    if not torch.cuda.is_available():
        return t("resources.no_gpu")
    rows = []
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        rows.append(f"{i}: {torch.cuda.get_device_name(i)} — {free / 2**30:.0f}/{total / 2**30:.0f} GiB")
    return t("resources.gpus") + "\n" + "\n".join(f"- {r}" for r in rows)


def add_cluster(root, t, name: str, kind: str, address: str, partition: str, time_limit: str):
    """Add a cluster from the panel; returns (message, picker update)."""
    try:
        registry.add(root, registry.Cluster(name=(name or "").strip(), kind=kind, address=(address or "").strip(),
                                            partition=(partition or "").strip(),
                                            time=(time_limit or "").strip() or "04:00:00"))
    except StudioError as exc:
        return f"⚠️ {t.error(exc)}", gr.update()
    return t("resources.added", name=name.strip()), gr.update(choices=cluster_choices(root, t), value=name.strip())


def remove_cluster(root, t, name: str):
    if not name:
        return t("resources.pick_first"), gr.update()
    try:
        registry.remove(root, name)
    except StudioError as exc:
        return f"⚠️ {t.error(exc)}", gr.update()
    return t("resources.removed", name=name), gr.update(choices=cluster_choices(root, t), value=HERE)


def build(studio, target=None) -> dict:
    """Render the panel; with `target` (the form's resources.cluster box) the picker fills it in."""
    t, root = studio.t, studio.workspace.root
    with gr.Accordion(t("resources.title"), open=False):
        picker = gr.Dropdown(choices=cluster_choices(root, t), value=HERE, label=t("resources.where"),
                             info=t("resources.where_info"), elem_id="resources-cluster-pick")
        gpus = gr.Markdown(elem_id="resources-gpus")
        with gr.Accordion(t("resources.manage"), open=False):
            with gr.Row():
                name = gr.Textbox(label=t("resources.name"), elem_id="cluster-name")
                kind = gr.Radio(choices=["ray", "slurm"], value="ray", label=t("resources.kind"),
                                elem_id="cluster-kind")
            with gr.Row():
                address = gr.Textbox(label=t("resources.address"), placeholder="http://HEAD:8265",
                                     elem_id="cluster-address")
                partition = gr.Textbox(label=t("resources.partition"), elem_id="cluster-partition")
                time_limit = gr.Textbox(label=t("resources.time"), value="04:00:00", elem_id="cluster-time")
            with gr.Row():
                add = gr.Button(t("resources.add"), size="sm", elem_id="cluster-add")
                remove = gr.Button(t("resources.remove"), size="sm", elem_id="cluster-remove")
            message = gr.Markdown(elem_id="cluster-message")
    add.click(lambda n, k, a, p, tl: add_cluster(root, t, n, k, a, p, tl),
              [name, kind, address, partition, time_limit], [message, picker])
    remove.click(lambda n: remove_cluster(root, t, n), picker, [message, picker])
    picker.focus(lambda: gr.update(choices=cluster_choices(root, t)), None, picker)
    gpus_loaded = gr.State(False)
    picker.focus(lambda done: (gr.update() if done else gpu_summary(t), True), gpus_loaded, [gpus, gpus_loaded])
    if target is not None:
        picker.change(lambda c: c or "", picker, target)
    return {"picker": picker, "gpus": gpus, "name": name, "kind": kind, "address": address,
            "partition": partition, "time": time_limit, "add": add, "remove": remove, "message": message}
