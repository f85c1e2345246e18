"""Self-Instruct as a job: grow an instruction dataset from a few seed tasks with a teacher model.

Each round: sample in-context examples from the pool (seeds and tasks kept so far), ask the
teacher for new tasks, parse them, filter them (`filters.Filters`), ask the teacher to answer the
survivors, keep the ones with an answer. Everything the job knows lives in its folder and is
rewritten atomically after every round, so a cancelled or killed job resumes where it stopped:

- `state.json`   counts and the number of teacher requests made (which also seeds the sampling);
- `candidates.jsonl`  every parsed task with its fate (`kept` or the filter that dropped it) — the
  review grid shows these;
- `generated.jsonl`   the kept rows (alpaca: instruction, input, output), the job's output;
- `preference.jsonl`  with `preference.enabled`, pairs of sampled answers ordered by a judge.

The teacher is the embedded model or any local model (through the studio's transformers engine, in
this worker), or an OpenAI-compatible endpoint. Its API key arrives as a job secret
(`ctx.secrets["api_key"]`) and is never written anywhere.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Literal

from ..atomic import read_jsonl, write_json, write_jsonl
from ..config import Strict, opt
from ..errors import StudioError
from .filters import BLACKLIST, CJK, REASONS, Filters, parse_tasks, tokens

STATE, CANDIDATES, OUTPUT, PREFERENCE = "state.json", "candidates.jsonl", "generated.jsonl", "preference.jsonl"
PASSED = ("kept", "no_answer", "extra")  # statuses of tasks that passed the filters (they stay in the ROUGE pool)


class TeacherConfig(Strict):
    kind: Literal["embedded", "local", "endpoint"] = opt(
        "embedded", "Teacher: the embedded model, a local model, or an OpenAI-compatible endpoint",
        "教师模型：内置模型、本地模型或 OpenAI 兼容接口")
    model: str = opt("smollm2-135m-instruct", "Model name or folder (for an endpoint: the model name it serves)",
                     "模型名称或文件夹（接口方式：服务端的模型名）")
    url: str = opt("", "Endpoint base URL, e.g. http://127.0.0.1:8000/v1", "接口地址，例如 http://127.0.0.1:8000/v1")
    api_key_env: str = opt("STUDIO_TEACHER_API_KEY", "CLI only: environment variable holding the API key",
                           "仅命令行：存放 API 密钥的环境变量名", advanced=True)


class FilterConfig(Strict):
    rouge_threshold: float = opt(0.7, "Drop a task whose ROUGE-L similarity to the pool is above this",
                                 "与已有任务的 ROUGE-L 相似度高于此值则丢弃", gt=0, le=1)
    min_words: int = opt(3, "Drop instructions shorter than this (words; a Chinese character counts as one)",
                         "指令少于此词数则丢弃（一个汉字算一个词）", ge=1)
    max_words: int = opt(150, "Drop instructions longer than this", "指令多于此词数则丢弃", ge=1)
    blacklist: list[str] = opt(list(BLACKLIST), "Drop instructions mentioning these (things a text model cannot do)",
                               "包含这些词（文本模型做不到的事）的指令会被丢弃")
    min_output_words: int = opt(1, "Drop tasks whose answer is shorter than this", "回答少于此词数则丢弃", ge=1)


class PreferenceConfig(Strict):
    enabled: bool = opt(False, "Also make preference pairs from two sampled answers", "同时用两次采样的回答生成偏好对")
    judge: Literal["rule", "teacher"] = opt("rule", "Who picks the better answer: a rule or the teacher",
                                             "由谁判断更好的回答：规则或教师模型")
    temperature: float = opt(1.0, "Sampling temperature for the two answers", "两次回答的采样温度", gt=0, le=2)


class SelfInstructConfig(Strict):
    seed_path: str = opt("", "Seed tasks: a file or a saved dataset (instruction rows or conversations)",
                         "种子任务：文件或已保存的数据集（指令数据或对话）")
    num_instructions: int = opt(20, "Stop after keeping this many new tasks", "保留这么多新任务后停止", ge=1)
    max_requests: int = opt(0, "Stop after this many teacher requests (0: 8 per wanted task)",
                            "教师请求次数上限（0 表示每个目标任务 8 次）", ge=0)
    examples_per_prompt: int = opt(3, "In-context examples shown per request", "每次请求展示的示例数", ge=1, le=16)
    new_per_prompt: int = opt(4, "New tasks asked for per request", "每次请求要求的新任务数", ge=1, le=20)
    batch_size: int = opt(4, "Requests sent together", "一次发送的请求数", ge=1, le=64)
    temperature: float = opt(0.8, "Sampling temperature for new tasks", "生成新任务的采样温度", ge=0, le=2)
    top_p: float = opt(0.95, "Nucleus sampling for new tasks", "生成新任务的核采样", gt=0, le=1)
    max_tokens: int = opt(256, "Longest teacher answer in tokens", "教师回答的最大 token 数", ge=8, le=4096)
    seed: int = opt(0, "Random seed", "随机种子")
    teacher: TeacherConfig = TeacherConfig()
    filters: FilterConfig = FilterConfig()
    preference: PreferenceConfig = PreferenceConfig()

    @property
    def request_limit(self) -> int:
        return self.max_requests or 8 * self.num_instructions

    @classmethod
    def parse(cls, raw: dict, source: str = "self-instruct config",
              overrides: list[str] | tuple[str, ...] = ()) -> "SelfInstructConfig":
        """The job's typed spec from YAML plus --set overrides (the same rules as `studio train`)."""
        from ..spec import build_typed

        return build_typed(cls, raw, overrides, source, command="data self-instruct")


# ---------------------------------------------------------------- seeds and prompts

def load_seeds(path: str, workspace_root: Path | None) -> list[dict]:
    """Seed rows as alpaca rows (conversations are converted), checked like any data file."""
    from .convert import convert_rows
    from .prepare import load_rows

    loaded = load_rows(path, "auto", None, workspace_root)
    rows = convert_rows(loaded.table.rows, loaded.format, "alpaca", loaded.table.file, loaded.table.line_of)
    seeds = [{"instruction": r["instruction"], "input": r.get("input") or "", "output": r["output"]} for r in rows]
    if len(seeds) < 2:
        raise StudioError(key="self_instruct.self_instruct_needs_at", path=path, n_seeds=len(seeds))
    return seeds


def _task_text(row: dict) -> str:
    text = row["instruction"].strip()
    if row.get("input"):
        text += f"\n   Input: {row['input'].strip()}"
    return text


def task_prompt(examples: list[dict], count: int) -> list[dict]:
    """One request for new tasks: numbered examples, then ask for `count` more in the same numbering."""
    shown = "\n".join(f"{i}. {_task_text(r)}" for i, r in enumerate(examples, start=1))
    start = len(examples) + 1
    chinese = any(CJK.search(r["instruction"]) for r in examples)
    language = " Write them in the same language as the examples." if chinese else ""
    ask = (f"Here are {len(examples)} example tasks:\n{shown}\n\nWrite {count} new tasks that are different from "
           f"these. Make each one a single clear instruction a person could ask an assistant.{language} "
           f"Answer with a numbered list only, starting at {start}.")
    return [{"role": "user", "content": ask}]


def answer_prompt(task: dict) -> list[dict]:
    content = task["instruction"] if not task.get("input") else f"{task['instruction']}\n\n{task['input']}"
    return [{"role": "user", "content": content}]


def judge_prompt(task: dict, first: str, second: str) -> list[dict]:
    question = answer_prompt(task)[0]["content"]
    ask = (f"Question:\n{question}\n\nAnswer A:\n{first}\n\nAnswer B:\n{second}\n\n"
           "Which answer is more helpful and correct? Reply with the single letter A or B.")
    return [{"role": "user", "content": ask}]


def _verdict(text: str) -> str | None:
    match = re.search(r"(?<![A-Za-z])([AB])(?![A-Za-z])", text or "")
    return match.group(1) if match else None


def rule_score(answer: str) -> float:
    """A judge for when no model judges: answers that say something without looping score higher."""
    words = tokens(answer)
    if not words:
        return 0.0
    distinct = len(set(words)) / len(words)
    return distinct * min(1.0, len(words) / 20)


# ---------------------------------------------------------------- teachers

class EngineTeacher:
    """A model loaded in this worker through the studio's own inference engine."""

    def __init__(self, model: str, ctx):
        from ..infer import engines
        from ..models import resolve

        ref = resolve(model, progress=lambda f, m: ctx.progress(None, m, phase="setup"))
        ctx.progress(None, f"Loading the teacher {ref.label}", phase="setup")
        self.engine = engines.build("transformers", str(ref.path), {})

    def complete(self, conversations: list[list[dict]], sampling) -> list[str]:
        return [c.text for c in self.engine.generate(conversations, sampling)]

    def close(self) -> None:
        self.engine.close()


class EndpointTeacher:
    """An OpenAI-compatible server; the key comes from the job's secrets and stays in memory."""

    def __init__(self, url: str, model: str, api_key: str | None):
        if not url:
            raise StudioError(key="self_instruct.endpoint_teacher_no_url")
        self.url, self.model, self._key = url, model, api_key

    def complete(self, conversations: list[list[dict]], sampling) -> list[str]:
        from ..infer.client import chat

        return [chat(self.url, self.model, c, sampling, api_key=self._key).strip() for c in conversations]

    def close(self) -> None:
        self._key = None


def build_teacher(cfg: TeacherConfig, ctx):
    if cfg.kind == "endpoint":
        return EndpointTeacher(cfg.url, cfg.model, ctx.secrets.get("api_key"))
    return EngineTeacher("smollm2-135m-instruct" if cfg.kind == "embedded" else cfg.model, ctx)


# ---------------------------------------------------------------- the job's state on disk

class State:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        saved = {}
        try:
            saved = json.loads((self.run_dir / STATE).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        self.requests: int = saved.get("requests", 0)
        self.counts: dict[str, int] = dict({"generated": 0, "kept": 0, "extra": 0, **{r: 0 for r in REASONS}},
                                           **saved.get("counts", {}))
        # rows past the recorded lengths come from a round whose state write never happened: it is redone
        self.candidates: list[dict] = read_jsonl(self.run_dir / CANDIDATES)[:saved.get("candidates", 0)]
        self.pairs: list[dict] = read_jsonl(self.run_dir / PREFERENCE)[:saved.get("pairs", 0)]
        self.resumed = bool(saved)

    @property
    def kept(self) -> list[dict]:
        return [{"instruction": c["instruction"], "input": c["input"], "output": c["output"]}
                for c in self.candidates if c["status"] == "kept"]

    def save(self) -> None:
        """Files first, the state last: a state never counts rows its files do not hold, and records how
        many rows it counted, so rows written by a round that was cut off before its state are ignored."""
        write_jsonl(self.run_dir / CANDIDATES, self.candidates)
        write_jsonl(self.run_dir / OUTPUT, self.kept)
        write_jsonl(self.run_dir / PREFERENCE, self.pairs)
        write_json(self.run_dir / STATE, {"requests": self.requests, "counts": self.counts,
                                          "candidates": len(self.candidates), "pairs": len(self.pairs)})


# ---------------------------------------------------------------- one round

def _sampling(cfg: SelfInstructConfig, seed: int, temperature: float | None = None):
    from ..infer.base import Sampling

    return Sampling(temperature=cfg.temperature if temperature is None else temperature, top_p=cfg.top_p,
                    max_tokens=cfg.max_tokens, seed=seed)


def _round(cfg: SelfInstructConfig, state: State, seeds: list[dict], filters: Filters, teacher) -> None:
    rng = random.Random(cfg.seed * 1_000_003 + state.requests)
    pool = seeds + state.kept
    n = min(cfg.batch_size, cfg.request_limit - state.requests)
    prompts = [task_prompt(rng.sample(pool, min(cfg.examples_per_prompt, len(pool))), cfg.new_per_prompt)
               for _ in range(n)]
    texts = teacher.complete(prompts, _sampling(cfg, seed=cfg.seed + state.requests))
    state.requests += n
    fresh = []
    for text in texts:
        tasks = parse_tasks(text)
        if not tasks:
            state.counts["unparsable"] += 1
            state.candidates.append({"instruction": "", "input": "", "output": "", "status": "unparsable",
                                     "detail": text[:300]})
        for task in tasks:
            state.counts["generated"] += 1
            reason, detail = filters.check(task["instruction"])
            entry = dict(task, status=reason or "pending", detail=detail)
            state.candidates.append(entry)
            if reason:
                state.counts[reason] += 1
            else:
                filters.add(task["instruction"])  # later candidates of this round compare against it too
                fresh.append(entry)
    _answer(cfg, state, fresh, teacher)


def _answer(cfg: SelfInstructConfig, state: State, fresh: list[dict], teacher) -> None:
    need = [e for e in fresh if not e["output"]]
    if need:
        answers = teacher.complete([answer_prompt(e) for e in need], _sampling(cfg, seed=cfg.seed + state.requests,
                                                                               temperature=0.0))
        for entry, answer in zip(need, answers):
            entry["output"] = answer.strip()
    for entry in fresh:
        if len(tokens(entry["output"])) < cfg.filters.min_output_words:
            entry["status"], entry["detail"] = "no_answer", "the teacher gave no usable answer"
            state.counts["no_answer"] += 1
        elif state.counts["kept"] < cfg.num_instructions:
            entry["status"] = "kept"
            state.counts["kept"] += 1
        else:
            entry["status"], entry["detail"] = "extra", "more than asked for"
            state.counts["extra"] += 1
    if cfg.preference.enabled:
        _pairs(cfg, state, [e for e in fresh if e["status"] == "kept"], teacher)


def _pairs(cfg: SelfInstructConfig, state: State, kept: list[dict], teacher) -> None:
    if not kept:
        return
    prompts = [answer_prompt(e) for e in kept]
    temp = cfg.preference.temperature
    first = teacher.complete(prompts, _sampling(cfg, cfg.seed + state.requests + 1, temp))
    second = teacher.complete(prompts, _sampling(cfg, cfg.seed + state.requests + 2, temp))
    verdicts = [None] * len(kept)
    if cfg.preference.judge == "teacher":
        asks = [judge_prompt(e, a, b) for e, a, b in zip(kept, first, second)]
        verdicts = [_verdict(v) for v in teacher.complete(asks, _sampling(cfg, cfg.seed, 0.0))]
    for entry, a, b, verdict in zip(kept, first, second, verdicts):
        a, b = a.strip(), b.strip()
        if a == b or not a or not b:
            state.counts["pair_identical"] = state.counts.get("pair_identical", 0) + 1
            continue
        if verdict not in ("A", "B"):
            if cfg.preference.judge == "teacher":
                state.counts["judge_unclear"] = state.counts.get("judge_unclear", 0) + 1
            verdict = "A" if rule_score(a) >= rule_score(b) else "B"
        chosen, rejected = (a, b) if verdict == "A" else (b, a)
        state.pairs.append({"prompt": answer_prompt(entry)[0]["content"], "chosen": chosen, "rejected": rejected})
        state.counts["pairs"] = state.counts.get("pairs", 0) + 1


# ---------------------------------------------------------------- the job

def summary(counts: dict) -> str:
    dropped = ", ".join(f"{r} {counts[r]}" for r in REASONS if counts.get(r))
    return f"generated {counts.get('generated', 0)}, kept {counts.get('kept', 0)}" + (
        f", dropped: {dropped}" if dropped else "")


def run_job(ctx) -> dict:
    cfg = SelfInstructConfig.parse(ctx.spec, f"job {ctx.job.id}")
    seeds = load_seeds(cfg.seed_path, ctx.workspace.root)
    state = State(ctx.run_dir)
    if state.resumed:
        ctx.events.log(f"resuming after {state.requests} requests: {summary(state.counts)}")
    passed = [c["instruction"] for c in state.candidates if c["status"] in PASSED]
    filters = Filters([s["instruction"] for s in seeds] + passed,
                      cfg.filters.rouge_threshold, cfg.filters.min_words, cfg.filters.max_words,
                      cfg.filters.blacklist)
    teacher = build_teacher(cfg.teacher, ctx)
    try:
        while state.counts["kept"] < cfg.num_instructions and state.requests < cfg.request_limit:
            _report(ctx, cfg, state)
            _round(cfg, state, seeds, filters, teacher)
            state.save()
            ctx.events.metric({"step": state.requests, **state.counts})
    finally:
        teacher.close()
    state.save()
    _report(ctx, cfg, state, force=True)
    ctx.events.log(f"done after {state.requests} requests: {summary(state.counts)}")
    if state.counts["kept"] < cfg.num_instructions:
        ctx.events.log(f"kept {state.counts['kept']} of the {cfg.num_instructions} tasks asked for within "
                       f"{cfg.request_limit} requests; raise max_requests or use a stronger teacher")
    out = {"output": str(ctx.run_dir / OUTPUT), "candidates": str(ctx.run_dir / CANDIDATES)}
    if cfg.preference.enabled:
        out["preference"] = str(ctx.run_dir / PREFERENCE)
    return out


def _report(ctx, cfg: SelfInstructConfig, state: State, force: bool = False) -> None:
    fraction = max(state.counts["kept"] / cfg.num_instructions, state.requests / cfg.request_limit)
    ctx.events.progress(min(1.0, fraction), summary(state.counts), phase="generate", counts=dict(state.counts),
                        requests=state.requests, force=force)
    ctx.check_cancelled()


# ---------------------------------------------------------------- review (Data tab, CLI)

REVIEW_COLUMNS = ["keep", "instruction", "input", "output", "status", "detail"]


def review_rows(run_dir: str | Path) -> list[dict]:
    """Every parsed task of a generate job, `keep` pre-set for those the filters kept."""
    out = []
    for c in read_jsonl(Path(run_dir) / CANDIDATES):
        if c.get("status") == "unparsable":
            continue
        out.append({"keep": c["status"] == "kept", **{k: c.get(k, "") for k in REVIEW_COLUMNS[1:]}})
    return out


def selected(review: list[dict]) -> list[dict]:
    """The rows the user ticked, as alpaca rows ready to save."""
    out = []
    for r in review:
        if str(r.get("keep")).lower() in ("true", "1") and str(r.get("instruction") or "").strip() \
                and str(r.get("output") or "").strip():
            out.append({"instruction": str(r["instruction"]).strip(), "input": str(r.get("input") or "").strip(),
                        "output": str(r["output"]).strip()})
    return out
