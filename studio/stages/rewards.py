"""Rewards for the online stages (GRPO, PPO): verifiable checks, a trained reward model, or user code.

Every reward has trl's reward-function signature, `fn(prompts, completions, **columns) -> list[float]`,
where `completions` are chat turns (`[{"role": "assistant", "content": ...}]`) and `columns` are the
dataset's other fields (the reference `answer`). GRPO hands them to trl's GRPOTrainer as they are;
the PPO stage calls the same functions itself.

- `exact_match`: the completion's final answer (only the last one it states) equals the row's reference
  answer (1 or 0)
- `math`: the final answer is mathematically the same as the reference (numbers, fractions, simple LaTeX)
- `code_tests`: the code in the completion passes the row's unit tests (its `answer`: assert lines or
  unittest code), run in a sandboxed subprocess with time and memory limits (studio.stages.verifiers)
- `format`: the completion matches a regular expression (1 or 0)
- `length`: closeness of the completion's length in characters to a target (0..1)
- `reward_model`: the score of a reward model trained with the `rm` stage
- a user's function from a Python file in the workspace, only when the user opts in
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, Callable

from ..config import opt
from ..errors import StudioError
from .base import StageConfig
from .verifiers import code_of, final_answer, math_equal, normalize, run_tests

RewardFn = Callable[..., list]

BUILTIN = ("exact_match", "math", "code_tests", "format", "length")
DEFAULT_FORMAT = r"(?:Answer|answer|ANSWER|答案)\s*[:：]\s*\S"


class RewardOptions(StageConfig):
    """Options shared by the stages that learn from a reward (GRPO, PPO)."""

    rewards: list[str] = opt(["exact_match", "format"],
                             "Built-in rewards: exact_match (final answer = the row's reference answer), math "
                             "(final answer mathematically equal: 0.5 = 1/2 = \\frac{1}{2}), code_tests (the code "
                             "passes the row's unit tests, run in a sandbox), format (matches format_pattern), "
                             "length (close to target_length characters)",
                             "内置奖励：exact_match（最终答案与参考答案一致）、math（最终答案在数学上相等：0.5 = 1/2 = "
                             "\\frac{1}{2}）、code_tests（代码在沙箱中通过该行的单元测试）、format（符合 format_pattern）、"
                             "length（长度接近 target_length 个字符）")
    reward_model: str | None = opt(None, "A reward model: the folder of a finished rm run (or its adapter/ folder)",
                                   "奖励模型：已完成的 rm 训练运行文件夹（或其 adapter/ 文件夹）")
    reward_weights: list[float] = opt([], "Weight of each reward, in order: built-ins, reward model, your function "
                                          "(empty: all 1)",
                                      "各奖励的权重，顺序为：内置奖励、奖励模型、自定义函数（留空则全为 1）",
                                      advanced=True)
    format_pattern: str = opt(DEFAULT_FORMAT, "Regular expression the format reward looks for in the answer",
                              "format 奖励在回答中查找的正则表达式", advanced=True)
    target_length: int = opt(200, "Answer length in characters that the length reward aims for",
                             "length 奖励期望的回答长度（字符数）", ge=1, advanced=True)
    reward_file: str | None = opt(None, "Your own reward: a Python file inside the workspace",
                                  "自定义奖励：工作区内的 Python 文件", advanced=True)
    reward_function: str | None = opt(None, "Name of the function in reward_file: fn(prompts, completions, **columns) "
                                            "-> list of floats",
                                      "reward_file 中的函数名：fn(prompts, completions, **columns) -> 浮点数列表",
                                      advanced=True)
    trust_reward_code: bool = opt(False, "Run the code in reward_file inside the training job (only your own code)",
                                  "允许在训练任务中运行 reward_file 的代码（仅限你自己的代码）", advanced=True)
    code_timeout_s: float = opt(5.0, "code_tests: seconds of CPU time each completion's code may run",
                                "code_tests：每个回答的代码可运行的 CPU 秒数", gt=0, le=120, advanced=True)
    code_memory_mb: int = opt(512, "code_tests: memory limit of the sandboxed process (MiB)",
                              "code_tests：沙箱进程的内存上限（MiB）", ge=64, le=16384, advanced=True)


# ---------------------------------------------------------------- text helpers

def text_of(completion: Any) -> str:
    """A completion as plain text, whether trl gives chat turns or a string."""
    if isinstance(completion, list):
        return "".join(str(turn.get("content") or "") for turn in completion if isinstance(turn, dict))
    return str(completion or "")


# ---------------------------------------------------------------- built-in rewards

def _need_answers(name: str, answer) -> None:
    if answer is None:
        raise StudioError(key="stages.reward_needs_reference_answer", name=name)


def exact_match(prompts=None, completions=None, answer=None, **_: Any) -> list[float]:
    """1.0 when the completion's final answer (the last it states) equals the reference answer, else 0.0."""
    _need_answers("exact_match", answer)
    out = []
    for completion, ref in zip(completions, answer):
        want = normalize(ref)
        out.append(1.0 if want and normalize(final_answer(text_of(completion))) == want else 0.0)
    return out


def math(prompts=None, completions=None, answer=None, **_: Any) -> list[float]:
    """1.0 when the completion's final answer is mathematically the reference (0.5 = 1/2 = \\frac{1}{2})."""
    _need_answers("math", answer)
    return [1.0 if math_equal(final_answer(text_of(c)), str(ref)) else 0.0 for c, ref in zip(completions, answer)]


def code_reward(seconds: float = 5.0, memory_mb: int = 512) -> RewardFn:
    def code_tests(prompts=None, completions=None, answer=None, **_: Any) -> list[float]:
        """1.0 when the completion's code passes the row's unit tests (its answer) in the sandbox."""
        _need_answers("code_tests", answer)
        return [1.0 if run_tests(code_of(text_of(c)), str(tests), seconds, memory_mb)[0] else 0.0
                for c, tests in zip(completions, answer)]

    return code_tests


def format_reward(pattern: str) -> RewardFn:
    compiled = re.compile(pattern, flags=re.DOTALL)

    def format(prompts=None, completions=None, **_: Any) -> list[float]:  # noqa: A001 - the name trl logs
        return [1.0 if compiled.search(text_of(c)) else 0.0 for c in completions]

    return format


def length_reward(target: int) -> RewardFn:
    def length(prompts=None, completions=None, **_: Any) -> list[float]:
        return [max(0.0, 1.0 - abs(len(text_of(c)) - target) / target) for c in completions]

    return length


# ---------------------------------------------------------------- a trained reward model

def find_reward_model(path: str, workspace_root: Path | None) -> Path:
    """The artifact folder of an rm run, given the run folder, its artifact folder or a run name."""
    candidates = [Path(path).expanduser()]
    if workspace_root is not None:
        candidates.append(Path(workspace_root) / "runs" / path)
    for base in candidates:
        for folder in (base, base / "adapter", base / "model"):
            info = folder / "studio_run.json"
            if info.is_file():
                import json

                meta = json.loads(info.read_text(encoding="utf-8"))
                if meta.get("model_kind") != "sequence_classification":
                    raise StudioError(key="stages.was_trained_with_stage", folder=folder, stage=meta.get('stage'))
                return folder
    raise StudioError(key="stages.reward_model_not_found", path=path)


class RewardModelScore:
    """A reward model as a reward function: its score for the prompt followed by the completion."""

    def __init__(self, folder: Path, device: str, batch_size: int = 8):
        from ..merge.artifacts import load_trained

        self.model, self.tokenizer = load_trained(folder, device)
        self.tokenizer.padding_side = "right"
        self.device = device
        self.batch_size = batch_size
        self.__name__ = "reward_model"

    def __call__(self, prompts=None, completions=None, **_: Any) -> list[float]:
        import torch

        texts = []
        for prompt, completion in zip(prompts, completions):
            turns = (prompt if isinstance(prompt, list) else [{"role": "user", "content": str(prompt)}])
            turns = turns + [{"role": "assistant", "content": text_of(completion)}]
            texts.append(self.tokenizer.apply_chat_template(turns, tokenize=False))
        scores: list[float] = []
        for i in range(0, len(texts), self.batch_size):
            enc = self.tokenizer(texts[i:i + self.batch_size], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                scores += self.model(**enc).logits[:, 0].float().tolist()
        return scores


# ---------------------------------------------------------------- the user's own function

def load_user_function(file: str, name: str, workspace_root: Path | None) -> RewardFn:
    """Import `name` from a Python file that lies inside the workspace (refused anywhere else)."""
    from ..workspace import Workspace

    root = Workspace.open(workspace_root).root if workspace_root else Workspace.open().root
    path = Path(file).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if root not in path.parents:
        raise StudioError(key="stages.reward_file_outside_workspace", file=file, root=root)
    if path.suffix != ".py" or not path.is_file():
        raise StudioError(key="stages.reward_file_not_python", path=path)
    spec = importlib.util.spec_from_file_location(f"studio_user_reward_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: report where it failed, not a traceback
        raise StudioError(key="stages.reward_file_failed_import", path=path, error_type=type(exc).__name__, exc=exc) from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise StudioError(key="stages.reward_file_no_function", path=path, name=name)
    return fn


# ---------------------------------------------------------------- assembling and checking

def check(cfg: RewardOptions) -> None:
    unknown = [r for r in cfg.rewards if r not in BUILTIN]
    if unknown:
        raise StudioError(key="stages.stage_args_rewards_unknown", unknown=unknown[0], builtin=', '.join(BUILTIN))
    if bool(cfg.reward_file) != bool(cfg.reward_function):
        raise StudioError(key="stages.reward_file_needs_function")
    if cfg.reward_file and not cfg.trust_reward_code:
        raise StudioError(key="stages.reward_file_untrusted")
    count = len(cfg.rewards) + bool(cfg.reward_model) + bool(cfg.reward_file)
    if count == 0:
        raise StudioError(key="stages.no_reward_chosen_stage")
    if cfg.reward_weights and len(cfg.reward_weights) != count:
        raise StudioError(key="stages.stage_args_reward_weights", n_reward_weights=len(cfg.reward_weights),
                          count=count)


def build(cfg: RewardOptions, device: str, workspace_root: Path | None) -> list[RewardFn]:
    """The reward functions the options ask for, in the order `reward_weights` refers to them."""
    makers = {"exact_match": lambda: exact_match, "math": lambda: math,
              "code_tests": lambda: code_reward(cfg.code_timeout_s, cfg.code_memory_mb),
              "format": lambda: format_reward(cfg.format_pattern),
              "length": lambda: length_reward(cfg.target_length)}
    funcs: list[RewardFn] = [makers[name]() for name in cfg.rewards]
    if cfg.reward_model:
        funcs.append(RewardModelScore(find_reward_model(cfg.reward_model, workspace_root), device))
    if cfg.reward_file:
        funcs.append(load_user_function(cfg.reward_file, cfg.reward_function, workspace_root))
    return funcs


def needs_answers(cfg: RewardOptions, dataset) -> None:
    """exact_match without reference answers can only ever give 0: refuse, naming the first such row."""
    needing = [r for r in cfg.rewards if r in ("exact_match", "math", "code_tests")]
    if not needing:
        return
    answers = dataset["answer"] if "answer" in dataset.column_names else [""] * len(dataset)
    for i, value in enumerate(answers, start=1):
        if not str(value or "").strip():
            raise StudioError(key="stages.data_row_no_reference", i=i, needing=needing[0])
