"""A scripted LLM for pipeline tests: canned completions, written by hand for four example functions.

It is not a model: it answers from the tables below, keyed by the function named in the prompt and the
kind of prompt (test generation, or a translation into one of the five targets). Each answer list
mixes right and wrong completions so every branch of the pipeline (passing, failing, unparsable,
duplicate) is exercised with real sandboxes. `delay_s` makes each call slow enough for a test to kill
a build midway. `classify` (not in the example corpus; tests write it themselves) has a test that only
some targets can express, for the per-target coverage bar.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

from multiplt.llm import Completion, Sampling

FUNCTIONS = ("count_vowels", "is_palindrome", "sum_of_squares", "digit_sum")
MAIN_TARGETS = ("racket", "lua")  # the README main command's targets, used by the benchmarks too

TESTS = {
    "count_vowels": '"hello") == 2\nassert count_vowels("AEIOU xyz") == 5\nassert count_vowels("") == 0\n'
    'assert count_vowels("rhythm") == 1\n',  # the last one is wrong: it must be dropped
    "is_palindrome": '"Level") == True\nassert is_palindrome("abc") == False\nassert is_palindrome("") == True\n'
    'assert is_palindrome("abca") == False\n',
    "sum_of_squares": "3) == 14\nassert sum_of_squares(0) == 0\nassert sum_of_squares(-2) == 0\nassert sum_of_squares(10) == 385\n",
    "digit_sum": "1234) == 10\nassert digit_sum(-907) == 16\nassert digit_sum(0) == 0\n",
    # 10**20 fits no 64-bit int: Lua, OCaml, R and Julia drop that assert, and with it the "big" branch.
    "classify": '-5) == "negative"\nassert classify(100000000000000000000) == "big"\n'
    'assert classify(7) == "small"\n',
}

CLASSIFY = (
    "def classify(n: int) -> str:\n"
    '    """Name the size of n: "negative" below zero, "big" above a thousand, else "small"."""\n'
    "    if n < 0:\n"
    '        return "negative"\n'
    "    if n > 1000:\n"
    '        return "big"\n'
    '    return "small"\n'
)

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
    "classify": ['  (cond [(< n 0) "negative"] [(> n 1000) "big"] [else "small"]))\n'],
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
    "classify": [
        '  if n < 0 then return "negative" end\n  if n > 1000 then return "big" end\n  return "small"\nend\n'
    ],
}

OCAML = {
    "count_vowels": [
        "  String.length text\n",  # wrong
        "  let c = ref 0 in\n"
        '  String.iter (fun ch -> if String.contains "aeiou" ch then incr c) (String.lowercase_ascii text);\n'
        "  !c\n",
    ],
    "is_palindrome": [
        "  let s = String.lowercase_ascii word in\n  let n = String.length s in\n"
        "  let rec go i = i >= n / 2 || (s.[i] = s.[n - 1 - i] && go (i + 1)) in\n  go 0\n",
        "  let n = String.length word in\n"
        "  let rec go i = i >= n / 2 || (word.[i] = word.[n - 1 - i] && go (i + 1)) in\n  go 0\n",  # wrong: case
    ],
    "sum_of_squares": [
        "  if n <= 0 then 0 else n * n + sum_of_squares (n - 1)\n",
        "  n * n\n",  # wrong
    ],
    "digit_sum": [
        "  let m = abs n in\n  if m < 10 then m else m mod 10 + digit_sum (m / 10)\n",
        "  n mod 10\n",  # wrong
    ],
}

R = {
    "count_vowels": [
        '  sum(strsplit(tolower(text), "")[[1]] %in% c("a", "e", "i", "o", "u"))\n}\n',
        "  nchar(text)\n}\n",  # wrong
    ],
    "is_palindrome": [
        '  word == paste(rev(strsplit(word, "")[[1]]), collapse = "")\n}\n',  # wrong: case
        '  s <- tolower(word)\n  s == paste(rev(strsplit(s, "")[[1]]), collapse = "")\n}\n',
    ],
    "sum_of_squares": [
        "  if (n <= 0) return(0)\n  sum((1:n) * (1:n))\n}\n",
        "  n * n\n}\n",  # wrong
    ],
    "digit_sum": [
        "  m <- abs(n)\n  t <- 0\n  while (m > 0) {\n    t <- t + m %% 10\n    m <- m %/% 10\n  }\n  t\n}\n",
        "  n %% 10\n}\n",  # wrong
    ],
}

JULIA = {
    "count_vowels": [
        '    count(c -> c in "aeiou", lowercase(text))\nend\n',
        "    length(text)\nend\n",  # wrong
    ],
    "is_palindrome": [
        "    word == reverse(word)\nend\n",  # wrong: case
        "    s = lowercase(word)\n    s == reverse(s)\nend\n",
    ],
    "sum_of_squares": [
        "    n <= 0 ? 0 : sum(i * i for i in 1:n)\nend\n",
        "    n * n\nend\n",  # wrong
    ],
    "digit_sum": [
        "    sum(digits(abs(n)))\nend\n",
        "    n % 10\nend\n",  # wrong
    ],
}

ELIXIR = {
    "count_vowels": [
        "    text |> String.downcase() |> String.graphemes() |> Enum.count(&(&1 in ~w(a e i o u)))\n  end\n",
        "    String.length(text)\n  end\n",  # wrong
    ],
    "is_palindrome": [
        "    word == String.reverse(word)\n  end\n",  # wrong: case
        "    s = String.downcase(word)\n    s == String.reverse(s)\n  end\n",
    ],
    "sum_of_squares": [
        "    if n <= 0, do: 0, else: Enum.sum(for i <- 1..n, do: i * i)\n  end\n",
        "    n * n\n  end\n",  # wrong
    ],
    "digit_sum": [
        "    abs(n) |> Integer.digits() |> Enum.sum()\n  end\n",
        "    rem(n, 10)\n  end\n",  # wrong
    ],
}


TABLES = {"racket": RACKET, "lua": LUA, "ocaml": OCAML, "r": R, "julia": JULIA, "elixir": ELIXIR}


def correct_completion(language: str, name: str) -> str:
    """The first hand-written answer for `name` in `language`, which is a correct one (for benchmarks
    that need a real, passing translation)."""
    return TABLES[language][name][0]


class ScriptedLLM:
    """The LLM protocol over the tables above; `calls` counts generate() calls in this process."""

    model_id = "scripted-examples-v1"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls = 0

    def provenance(self) -> dict[str, str]:
        """A scripted model's weights are its answer tables, so the hash of this file pins them, as a
        model file's sha256 pins a real model."""
        return {
            "backend": "scripted",
            "model_id": self.model_id,
            "file": Path(__file__).name,
            "sha256": hashlib.sha256(Path(__file__).read_bytes()).hexdigest(),
        }

    def _answers(self, prompt: str) -> list[str]:
        last = prompt.rstrip().splitlines()[-1]
        for name in TESTS:
            if prompt.endswith(f"assert {name}("):
                return [TESTS[name]]
            if "#lang racket" in prompt and last.startswith(f"(define ({name}"):
                table = RACKET
            elif last.startswith(f"local function {name}("):
                table = LUA
            elif last.startswith(f"let rec {name} ("):
                table = OCAML
            elif last.startswith(f"{name} <- function("):
                table = R
            elif last.startswith(f"function {name}("):
                table = JULIA
            elif last.startswith(f"  def {name}("):
                table = ELIXIR
            else:
                continue
            return table.get(name, ["\n"])
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
