from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectUid:
    """Label Studio's project identity, ``"<id>.<created unix ts>"``; a bare ``"<id>"`` has ts 0."""

    project_id: int
    created_ts: int = 0

    @classmethod
    def parse(cls, raw: str | int) -> ProjectUid:
        text = str(raw).strip()
        head, dot, tail = text.partition(".")
        if not head.isdigit() or (dot and not tail.isdigit()):
            raise ValueError(f"project must look like '<id>.<timestamp>' or '<id>', got {text[:80]!r}")
        return cls(project_id=int(head), created_ts=int(tail) if tail else 0)

    def __str__(self) -> str:
        return f"{self.project_id}.{self.created_ts}" if self.created_ts else str(self.project_id)
