"""The click parameter types the options share: a duration with units, a choice of keys."""

from __future__ import annotations

from typing import Any

import click

from harness.config import parse_duration


class DurationType(click.ParamType):  # type: ignore[type-arg]
    name = "duration"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        opt = f"--{param.name}" if param and param.name else "duration"
        return parse_duration(str(value), opt)


DURATION = DurationType()


def choice(values: dict[str, str] | tuple[str, ...]) -> click.Choice:  # type: ignore[type-arg]
    return click.Choice(sorted(values), case_sensitive=False)
