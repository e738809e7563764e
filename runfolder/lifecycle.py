"""One life for every run folder: ``running`` until it ends complete, failed or interrupted.

Every command that writes a run folder (``run``, ``profile``, ``capacity``, the suite,
``ab``) measures inside ``lifecycle(writer)``. Whatever is raised inside, the folder
ends consistent: Ctrl-C -> ``interrupted`` (exit 130); a ``HarnessError`` -> ``failed``
with its message and exit code; anything else (a bug, a library's exception, Locust's
web API gone) -> ``failed`` with the exception named and the traceback in ``error.txt``.
A crashed run never looks complete. The derived files (report) are built after the
status is written, with a second Ctrl-C ignored, and then the outcome is raised as
``Interrupted`` / ``RunFailed`` so the CLI exits non-zero.
"""

from __future__ import annotations

import contextlib
import signal
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from runfolder.errors import HarnessError, Interrupted, RunFailed
from runfolder.writer import RunWriter

ERROR_FILE = "error.txt"


@dataclass
class Life:
    """How a run ended, and what was derived from it afterwards."""

    run_dir: Path
    status: str = "complete"
    error: str | None = None
    exit_code: int = 1
    report: Path | None = None


@contextlib.contextmanager
def lifecycle(
    writer: RunWriter,
    *,
    derive: Callable[[Path], Path | None] | None = None,
    cleanup: Callable[[], None] | None = None,
) -> Iterator[Life]:
    """Measure inside; on the way out: ``cleanup``, the final status, ``derive``, raise."""
    life = Life(writer.run_dir)
    try:
        yield life
    except KeyboardInterrupt:
        life.status, life.error = "interrupted", "interrupted by the user (Ctrl-C)"
    except HarnessError as exc:
        life.status, life.error, life.exit_code = "failed", exc.format_message(), exc.exit_code
    except Exception as exc:
        life.status = "failed"
        life.error = f"internal error: {type(exc).__name__}: {exc} (traceback: {ERROR_FILE})"
        (writer.run_dir / ERROR_FILE).write_text(traceback.format_exc())
    finally:
        try:
            if cleanup is not None:
                cleanup()
        finally:
            if life.status != "complete" and life.error:
                error_file = writer.run_dir / ERROR_FILE
                if not error_file.exists():
                    error_file.write_text(life.error + "\n")
            writer.finish(life.status, life.error)
    if derive is not None:
        with no_interrupt():
            life.report = derive(writer.run_dir)
    if life.status == "interrupted":
        raise Interrupted(f"interrupted: data so far kept in {writer.run_dir}")
    if life.status == "failed":
        raise RunFailed(f"{life.error} (run folder: {writer.run_dir})", life.exit_code)


@contextlib.contextmanager
def no_interrupt() -> Iterator[None]:
    """Ignore a second Ctrl-C while the last files are written."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
