"""A scripted LLM for pipeline tests: canned completions, written by hand for four example functions.

It is not a model: it answers from the tables below, keyed by the function named in the prompt and the
kind of prompt (test generation, Racket or Lua translation). Each answer list mixes right and wrong
completions so every branch of the pipeline (passing, failing, unparsable, duplicate) is exercised
with real sandboxes. `delay_s` makes each call slow enough for a test to kill a build midway.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from multiplt.llm import Completion, Sampling

FUNCTIONS = ("count_vowels", "is_palindrome", "sum_of_squares", "digit_sum")

TESTS = {
    "count_vowels": '"hello") == 2\nassert count_vowels("AEIOU xyz") == 5\nassert count_vowels("") == 0\n'
    'assert count_vowels("rhythm") == 1\n',  # the last one is wrong: it must be dropped
    "is_palindrome": '"Level") == True\nassert is_palindrome("abc") == False\nassert is_palindrome("") == True\n'
    'assert is_palindrome("abca") == False\n',
    "sum_of_squares": "3) == 14\nassert sum_of_squares(0) == 0\nassert sum_of_squares(-2) == 0\nassert sum_of_squares(10) == 385\n",
    "digit_sum": "1234) == 10\nassert digit_sum(-907) == 16\nassert digit_sum(0) == 0\n",
}

RACKET = {
    "count_vowels": [
        '  (for/sum ([c (string-downcase text)]) (if (memv c (string->list "aeiou")) 1 0)))\n',
        '  (for/sum ([c (string-downcase text)])\n    (if (memv c (string->list "aeiou")) 1 0)))\n',  # same tokens
        "  (string-length text))\n",  # wrong
        '  (for/sum ([c text]) (if (memv c (string->list "aeiou")) 1 0)))\n',  # wrong: case
    ],
    "is_palindrome": [
        "  (let ([s (string-downcase word)]) (equal? s (list->string (reverse (string->list s))))))\n",
        "  (equal? word (list->string (reverse (string->list word)))))\n",  # wrong: case
        "  (let ([s (string-downcase word)]\n",  # unbalanced: does not parse
    ],
    "sum_of_squares": [
        "  (for/sum ([i (in-range 1 (+ n 1))]) (* i i)))\n",
        "  (if (<= n 0) 0 (/ (* n (+ n 1) (+ (* 2 n) 1)) 6)))\n",
        "  (* n n))\n",  # wrong
    ],
    "digit_sum": [
        "  (let loop ([m (abs n)] [acc 0]) (if (zero? m) acc (loop (quotient m 10) (+ acc (remainder m 10))))))\n",
        "  (for/sum ([c (number->string (abs n))]) (- (char->integer c) 48)))\n",
        "  (let loop ([m n] [acc 0]) (if (<= m 0) acc (loop (quotient m 10) (+ acc (remainder m 10))))))\n",  # wrong
    ],
}

LUA = {
    "count_vowels": [
        '  local _, n = string.gsub(string.lower(text), "[aeiou]", "")\n  return n\nend\n',
        "  return #text\nend\n",  # wrong
    ],
    "is_palindrome": [
        "  local s = string.lower(word)\n  return s == string.reverse(s)\nend\n",
        "  return word == string.reverse(word)\nend\n",  # wrong: case
    ],
    "sum_of_squares": [
        "  local t = 0\n  for i = 1, n do t = t + i * i end\n  return t\nend\n",
        "  local total = 0\n  for i = 1, n do\n    total = total + i * i\n  end\n  return total\nend\n",
    ],
    "digit_sum": [
        "  local m, t = math.abs(n), 0\n  while m > 0 do t = t + m % 10; m = m // 10 end\n  return t\nend\n",
        "  return n % 10\nend\n",  # wrong
    ],
}


class ScriptedLLM:
    """The LLM protocol over the tables above; `calls` counts generate() calls in this process."""

    model_id = "scripted-examples-v1"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    def _answers(self, prompt: str) -> list[str]:
        for name in FUNCTIONS:
            if prompt.endswith(f"assert {name}("):
                return [TESTS[name]]
            last = prompt.rstrip().splitlines()[-1]
            if "#lang racket" in prompt and last.startswith(f"(define ({name}"):
                return RACKET[name]
            if last.startswith(f"local function {name}("):
                return LUA[name]
        return ["\n"]

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        self.calls += 1
        out = []
        for prompt in prompts:
            if self.delay_s:
                time.sleep(self.delay_s)
            answers = self._answers(prompt)
            samples = []
            for i in range(sampling.n):
                # Sample i of seed s is answer (s + i): resumed runs get the very same samples.
                text = answers[(sampling.seed + i) % len(answers)]
                samples.append(Completion(text=text, tokens=len(text.split())))
            out.append(samples)
        return out
