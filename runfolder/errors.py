"""One error base class for everything the harness reports to a user.

Messages say what went wrong and what to do next, on one line. The CLI catches
``HarnessError`` once and exits non-zero; nothing else prints tracebacks at users.
"""

from __future__ import annotations

import click


class HarnessError(click.ClickException):
    """An error the user can act on; ``exit_code`` is 1 unless a subclass says otherwise."""

    exit_code = 1


class ConfigError(HarnessError):
    """Bad flags or configuration values; exit code 2 like click's usage errors."""

    exit_code = 2


class ProcessError(HarnessError):
    """A child process (server, upstream, redis, nginx, Locust) failed to start or died."""


class RunFolderError(HarnessError):
    """A run folder is missing, corrupt or half-written."""


class RunFailed(HarnessError):
    """A run that ended ``failed``; keeps the exit code of the error that ended it."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code: int = exit_code  # type: ignore[misc]  # click reads it per instance


class Interrupted(HarnessError):
    """Ctrl-C: the run was stopped by the user; exit code 130 as shells expect."""

    exit_code = 130
