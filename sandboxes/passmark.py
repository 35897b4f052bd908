"""The pass mark: how a test harness proves it ran to its end, in a way the program under test cannot forge.

A harness prints `PLACEHOLDER` after its last check, and that is how the test suite is stored and
published. Right before a run the sandbox swaps the placeholder in the program for a mark drawn at
random for that one run; afterwards it defuses every placeholder in the output (the program printed
those itself) and only then turns the run's mark back into the placeholder. So an outcome holds the
placeholder only if the harness reached its last line, while the program text, its cache key and its
stored outcome stay the same from run to run. A model that learned the published placeholder (or the
fixed mark of older versions) prints a defused string and fails.

The swap covers the whole program text, so whoever assembles a program defuses the untrusted parts
(the candidate, corpus code) with `defuse` before joining them to the harness.

Limit: the harness and the program under test share one process, so code written to read its own
source file or the harness's memory can still find the mark. This stops printing a known string, not
deliberate introspection.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

PLACEHOLDER = "MULTIPLT-PASS-MARK"
# Shorter than the placeholder, so defusing always ends, and not a part of it.
_DEFUSED = "MULTIPLT-FORGED"


def defuse(text: str) -> str:
    """`text` with no placeholder left in it (replacing one could join the pieces around it into a new one)."""
    while PLACEHOLDER in text:
        text = text.replace(PLACEHOLDER, _DEFUSED)
    return text


@dataclass(frozen=True)
class Seal:
    """The mark of one run."""

    mark: str

    @staticmethod
    def new() -> Seal:
        return Seal(f"multiplt-{secrets.token_hex(16)}")

    def apply(self, code: str) -> str:
        """The program as it runs: the harness's placeholder replaced by this run's mark."""
        return code.replace(PLACEHOLDER, self.mark)

    def lift(self, output: str) -> str:
        """Output as it is stored: placeholders the program printed defused, this run's mark turned back
        into the placeholder."""
        return defuse(output).replace(self.mark, PLACEHOLDER)
