"""Counting what every stage keeps and drops, and why.

A dataset is only as trustworthy as its funnel: a user must be able to see that nothing vanished
silently. Each stage reports `seen`, `kept` and one count per drop reason, and the invariant
seen == kept + sum(drops) is checked wherever a funnel is printed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class StageCount:
    seen: int = 0
    kept: int = 0
    drops: Counter[str] = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.seen == self.kept + sum(self.drops.values())


@dataclass
class Funnel:
    """Per-stage counts, keyed by stage name (e.g. "sources", "testgen", "verify/racket")."""

    stages: dict[str, StageCount] = field(default_factory=dict)

    def stage(self, name: str) -> StageCount:
        return self.stages.setdefault(name, StageCount())

    def seen(self, stage: str, n: int = 1) -> None:
        self.stage(stage).seen += n

    def keep(self, stage: str, n: int = 1) -> None:
        self.stage(stage).kept += n

    def drop(self, stage: str, reason: str, n: int = 1) -> None:
        if n:
            self.stage(stage).drops[reason] += n

    def merge(self, other: Funnel) -> None:
        for name, count in other.stages.items():
            mine = self.stage(name)
            mine.seen += count.seen
            mine.kept += count.kept
            mine.drops.update(count.drops)

    def to_dict(self) -> dict[str, dict[str, object]]:
        return {
            name: {"seen": c.seen, "kept": c.kept, "drops": dict(sorted(c.drops.items()))}
            for name, c in self.stages.items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, object]]) -> Funnel:
        funnel = cls()
        for name, c in data.items():
            s = funnel.stage(name)
            s.seen = int(c["seen"])  # type: ignore[call-overload]
            s.kept = int(c["kept"])  # type: ignore[call-overload]
            s.drops.update(c.get("drops", {}))  # type: ignore[arg-type]
        return funnel

    def table(self) -> str:
        """A plain-text table: one block per stage, drops indented under it, largest first."""
        lines = []
        for name, c in self.stages.items():
            flag = "" if c.balanced else "   (!) seen != kept + drops"
            lines.append(f"{name:<28} seen {c.seen:>8}   kept {c.kept:>8}{flag}")
            for reason, n in c.drops.most_common():
                lines.append(f"    - {reason:<36} {n:>8}")
        return "\n".join(lines)
