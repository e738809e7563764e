"""One renderer per format: a comparison as the terminal table (``terminal``), Markdown
(``markdown``), data (``json``) and an HTML page (``html``), all reading the same
``reports.comparison.Comparison``; ``text`` holds the words they share. Adding a format
is adding a module.
"""

from __future__ import annotations

from pathlib import Path

from reports.comparison import Comparison
from reports.render.json import as_json
from reports.render.markdown import markdown
from runfolder import storage
from runfolder.errors import RunFolderError


def write_outputs(
    cmp: Comparison,
    markdown_path: Path | None,
    json_path: Path | None,
    allow_undecided: bool = False,
) -> None:
    try:
        if markdown_path is not None:
            storage.write_atomic(markdown_path, markdown(cmp, allow_undecided))
        if json_path is not None:
            storage.write_json(json_path, as_json(cmp, allow_undecided))
    except OSError as exc:
        raise RunFolderError(f"cannot write the comparison: {exc}") from None
