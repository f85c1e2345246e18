"""Verifiable rewards: the final answer of a completion, math equivalence, and unit tests run in a sandbox.

- `final_answer` takes the one answer a completion commits to (the last \\boxed{}, "#### x", "Answer: x"
  line, else what follows the last "=" of the last line, else the last number, else the last line): a hedged "Answer: 24\\nAnswer: 25" answers 25.
- `math_equal` compares numbers, fractions and simple LaTeX (\\frac{1}{2}, \\dfrac, \\boxed{}, \\text{},
  \\$, \\%, thousands separators, ^\\circ) exactly with fractions; nothing is ever evaluated as code.
- `run_tests` runs the completion's code followed by the row's unit tests in a separate Python
  process: a fresh temporary folder as its working directory, an empty environment, limits on CPU
  time, memory, file size and open files (resource.setrlimit), and no network (its own network
  namespace where the kernel allows it, else sockets disabled before the code runs).
"""

from __future__ import annotations

import re
from fractions import Fraction

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def _boxed(text: str) -> list[str]:
    """Contents of every \\boxed{...} (or \\fbox{...}), with nested braces."""
    out = []
    for match in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                out.append(text[start:i])
                break
    return out


def final_answer(text: str) -> str:
    """The answer a completion ends on: the last explicit statement of it, else its last number or line."""
    text = str(text or "")
    for found in (_boxed(text), re.findall(r"####\s*([^\n]+)", text),
                  re.findall(r"(?:final answer|answer|答案)\s*(?:is|是|为)?\s*[:：]?\s*([^\n]+)", text,
                             flags=re.IGNORECASE)):
        if found:
            return found[-1].strip()
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if lines and "=" in lines[-1] and lines[-1].rsplit("=", 1)[1].strip():  # "... so x = \frac{6}{8}"
        return lines[-1].rsplit("=", 1)[1].strip().rstrip(".")
    numbers = _NUMBER.findall(text)
    if numbers:
        return numbers[-1]
    return lines[-1] if lines else ""


def normalize(text: str) -> str:
    """Case, spaces, surrounding punctuation and thousands separators do not matter."""
    text = re.sub(r"\s+", " ", str(text).strip().lower())
    text = text.strip(" .。!！?？:：;；\"'`*$")
    if re.fullmatch(r"-?\d[\d,]*(?:\.\d+)?", text):
        text = text.replace(",", "")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
    return text


_LATEX_DROP = (r"\left", r"\right", r"\!", r"\,", r"\;", r"\ ", "$", r"\$", r"\%", "%", "^\\circ", "^{\\circ}",
               r"\displaystyle")


def _latex_plain(text: str) -> str:
    """Simple LaTeX as plain arithmetic text: \\frac{a}{b} -> (a)/(b), \\text{...} dropped, ..."""
    text = str(text).strip()
    boxed = _boxed(text)
    if boxed:
        text = boxed[-1]
    text = re.sub(r"\\text\s*\{[^{}]*\}", "", text)
    for token in _LATEX_DROP:
        text = text.replace(token, "")
    frac = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
    while frac.search(text):
        text = frac.sub(r"(\1)/(\2)", text)
    text = re.sub(r"\\[dt]?frac\s*(\d)\s*(\d)", r"\1/\2", text)  # \frac12
    return text.replace("{", "").replace("}", "").replace(" ", "").rstrip(".")


def as_number(text: str) -> Fraction | None:
    """A number, a fraction or a/b written plainly or in simple LaTeX, exactly; None for anything else."""
    plain = _latex_plain(text).replace(",", "") if re.search(r"\d", str(text)) else ""
    match = re.fullmatch(r"(-?)\(?(-?[\d.]+)\)?(?:/\(?(-?[\d.]+)\)?)?", plain)
    if not match:
        return None
    try:
        value = Fraction(match.group(2))
        if match.group(3) is not None:
            value /= Fraction(match.group(3))
    except (ValueError, ZeroDivisionError):
        return None
    return -value if match.group(1) else value


def math_equal(answer: str, reference: str) -> bool:
    """The same number (1/2 = 0.5 = \\frac{1}{2} = \\boxed{\\dfrac12}), else the same normalized text."""
    a, b = as_number(answer), as_number(reference)
    if a is not None and b is not None:
        return a == b or abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))
    return bool(normalize(reference)) and normalize(_latex_plain(answer)) == normalize(_latex_plain(reference))


# ---------------------------------------------------------------- code in a sandbox

# what runs in the child before the user's code: no sockets even where no network namespace could be made
_PRELUDE = """\
import socket as _s
def _no_network(*_a, **_k):
    raise OSError("network access is disabled in the code verifier")
_s.socket = _no_network
_s.create_connection = _no_network
_s.socketpair = _no_network
del _s, _no_network
"""


def code_of(completion: str) -> str:
    """The last fenced code block of a completion (```python ... ```), else the whole text."""
    blocks = re.findall(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)```", completion, flags=re.DOTALL | re.IGNORECASE)
    return blocks[-1] if blocks else completion


def _limits(seconds: float, memory_mb: int):
    """preexec_fn: resource limits, a new session (killable as a group) and, if allowed, no network."""
    def apply() -> None:
        import os
        import resource

        os.setsid()
        cpu = max(1, int(seconds + 0.999))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        size = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
        resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:  # a private network namespace with nothing in it (needs the permission; else the prelude)
            import ctypes

            ctypes.CDLL(None, use_errno=True).unshare(0x40000000)  # CLONE_NEWNET
        except Exception:  # noqa: BLE001 - the socket prelude still applies
            pass
    return apply


def run_tests(code: str, tests: str, seconds: float = 5.0, memory_mb: int = 512) -> tuple[bool, str]:
    """(passed, why) for `code` followed by `tests` (asserts or unittest code) in the sandboxed child."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="studio-verify-") as folder:
        script = os.path.join(folder, "solution.py")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(_PRELUDE + "\n" + code + "\n\n" + tests + "\n")
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", script], cwd=folder, env={"PATH": "/usr/bin:/bin"},
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    preexec_fn=_limits(seconds, memory_mb), close_fds=True)
        except OSError as exc:
            return False, f"could not start: {exc}"
        try:
            _out, err = proc.communicate(timeout=seconds + 2)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return False, f"timed out after {seconds:g} s"
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.returncode == 0:
            return True, "passed"
        if proc.returncode < 0:
            return False, f"killed by signal {-proc.returncode} (time or memory limit)"
        last = (err.decode("utf-8", "replace").strip().splitlines() or ["failed"])[-1]
        return False, last[:200]
