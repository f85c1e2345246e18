"""Issue 11 item 4: GRPO rewards take the final answer only; math equivalence; code run in a sandbox."""

from __future__ import annotations

import time

import pytest

from studio.stages.rewards import code_reward, exact_match, math
from studio.stages.verifiers import as_number, final_answer, math_equal, run_tests


def turns(*texts):
    return [[{"role": "assistant", "content": t}] for t in texts]


def test_exact_match_takes_the_final_answer_only():
    assert exact_match(completions=turns("Answer: 24\nAnswer: 25"), answer=["25"]) == [1.0]
    assert exact_match(completions=turns("Answer: 25\nAnswer: 24"), answer=["25"]) == [0.0]  # hedging does not pay
    assert exact_match(completions=turns("\\boxed{24} or maybe \\boxed{25}"), answer=["24"]) == [0.0]
    assert final_answer("first 3, then 4, so 7") == "7" and final_answer("#### 1,000") == "1,000"
    assert final_answer("we get \\boxed{\\frac{1}{2}}.") == "\\frac{1}{2}"


@pytest.mark.parametrize("answer, reference", [
    ("0.5", "1/2"), ("\\frac{1}{2}", "0.5"), ("\\boxed{\\dfrac{3}{4}}", "0.75"), ("1,000", "1000"),
    ("$12$", "12"), ("-\\frac{2}{4}", "-0.5"), ("\\frac12", "0.5"), ("50\\%", "50"), ("3.0", "3"),
    ("\\text{x = }7", "7"),
])
def test_math_equivalence(answer, reference):
    assert math_equal(answer, reference)


def test_math_inequivalence_and_no_code_evaluated():
    assert not math_equal("0.51", "1/2") and not math_equal("2", "3")
    assert as_number("__import__('os').system('true')") is None and as_number("1/0") is None
    got = math(completions=turns("so x = \\frac{6}{8}", "Answer: 0.7", "I give up"), answer=["3/4", "3/4", "3/4"])
    assert got == [1.0, 0.0, 0.0]


SQUARE_TESTS = "assert square(3) == 9\nassert square(-2) == 4\n"


def test_code_tests_pass_and_fail():
    good = "Here:\n```python\ndef square(x):\n    return x * x\n```"
    bad = "```python\ndef square(x):\n    return x + x\n```"
    reward = code_reward(seconds=5, memory_mb=256)
    assert reward(completions=turns(good, bad, "no code at all"), answer=[SQUARE_TESTS] * 3) == [1.0, 0.0, 0.0]


def test_sandbox_limits_time_memory_network_and_files(tmp_path):
    start = time.time()
    ok, why = run_tests("while True:\n    pass", "", seconds=1, memory_mb=256)
    assert not ok and time.time() - start < 10 and ("limit" in why or "timed out" in why)
    ok, why = run_tests("x = bytearray(2 * 1024 ** 3)", "", seconds=5, memory_mb=256)
    assert not ok and "MemoryError" in why
    ok, why = run_tests("import socket\nsocket.create_connection(('127.0.0.1', 9))", "", seconds=5)
    assert not ok and ("network" in why or "Errno" in why)
    ok, why = run_tests("import os\nassert os.environ.get('HOME') is None\nopen('x.txt', 'w').write('hi')\n"
                        f"assert not os.path.exists({str(tmp_path / 'x.txt')!r})", "", seconds=5)
    assert ok, why  # an empty environment, and files land in its own temporary folder
