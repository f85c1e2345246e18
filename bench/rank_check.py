"""Checks bench/gpu_check.sh runs on a finished run folder.

    python bench/rank_check.py devices RUN_DIR WORLD   # every rank computed on its own GPU
    python bench/rank_check.py tokens RUN_DIR          # training throughput, tokens/s

`devices` reads devices/rank-N.json (written by each rank at train start, studio/train/launch.py):
WORLD ranks, each with torch.cuda.current_device() == its LOCAL_RANK and its first parameter on that
GPU (or, under ZeRO-3/FSDP, the parameter shard on it), all devices distinct per machine.
`tokens` reads metrics.jsonl: tokens trained per second between the first and the last logged step
(trl's num_tokens counts every rank's tokens), so the first step's start-up cost is left out.
Exit code 0 when the check holds, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def check_devices(run_dir: Path, world: int) -> list[str]:
    problems = []
    files = sorted((run_dir / "devices").glob("rank-*.json"))
    ranks = [json.loads(f.read_text()) for f in files]
    if len(ranks) != world:
        problems.append(f"{len(ranks)} rank reports, expected {world}")
    seen = set()
    for r in ranks:
        local, current = r.get("local_rank"), r.get("cuda_current_device")
        print(f"rank {r.get('rank')}: local_rank {local}, cuda.current_device() {current}, "
              f"parameters on {r.get('param_device')}, world {r.get('world_size')}")
        if current != local:
            problems.append(f"rank {r.get('rank')} computes on cuda:{current}, not its own cuda:{local}")
        if r.get("param_device") not in (f"cuda:{local}", "cpu" if r.get("offloaded") else None):
            problems.append(f"rank {r.get('rank')} has its weights on {r.get('param_device')}, not cuda:{local}")
        if r.get("world_size") != world:
            problems.append(f"rank {r.get('rank')} sees world size {r.get('world_size')}, expected {world}")
        seen.add(current)
    if ranks and len(seen) != len(ranks):
        problems.append(f"{len(ranks)} ranks share {len(seen)} device(s): {sorted(map(str, seen))}")
    return problems


def tokens_per_second(run_dir: Path) -> float:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "num_tokens" in r and "time" in r]
    if len(rows) < 2:
        raise SystemExit(f"{run_dir}: fewer than 2 logged steps with num_tokens")
    first, last = rows[0], rows[-1]
    return (last["num_tokens"] - first["num_tokens"]) / max(1e-9, last["time"] - first["time"])


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "devices" and len(argv) == 3:
        problems = check_devices(Path(argv[1]), int(argv[2]))
        for p in problems:
            print("problem:", p)
        return 1 if problems else 0
    if len(argv) == 2 and argv[0] == "tokens":
        print(f"{tokens_per_second(Path(argv[1])):.1f}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
