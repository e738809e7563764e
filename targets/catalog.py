"""The reference targets by id, without importing Flask (the harness reads this)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    id: str
    description: str

    @property
    def app_spec(self) -> str:
        """The import string servers take: ``targets.<id>_app:create_app()``."""
        return f"targets.{self.id}_app:create_app()"


TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target("sync", "plain sync views: the control for async (same app as uncached)"),
        Target("async", "async def views; /upstream awaits its calls concurrently"),
        Target("cached", "sync views plus Flask-Caching (memory or Redis) and ETag/304"),
        Target("uncached", "the plain baseline with nothing added: the control for cached"),
    )
}

DESCRIPTIONS: dict[str, str] = {t.id: t.description for t in TARGETS.values()}


def app_spec(target_id: str) -> str:
    """``targets.<id>_app:create_app()``; KeyError for an unknown id."""
    return TARGETS[target_id].app_spec
