"""String-literal escaping shared by the C-like targets: each says how it spells an escape."""

from __future__ import annotations

from collections.abc import Callable

SIMPLE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def escape(s: str, other: Callable[[str], str], extra: dict[str, str] | None = None) -> str:
    """`s` with backslash, quote and common controls escaped; every other non-printable or non-ASCII
    character goes through `other` (the target's numeric escape)."""
    table = {**SIMPLE, **(extra or {})}
    out = []
    for c in s:
        if c in table:
            out.append(table[c])
        elif " " <= c <= "~":
            out.append(c)
        else:
            out.append(other(c))
    return "".join(out)
