"""What a run folder's JSON files must hold before anything reads them: one clear error
(``RunFolderError``: missing, corrupt, another format version) instead of a KeyError deep
inside a report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runfolder.errors import RunFolderError
from runfolder.storage import FORMAT_VERSION, STATUSES

FORMAT_VERSIONS = (FORMAT_VERSION,)


def read_json(path: Path, what: str) -> Any:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing: {what}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(
            f"{path} is not valid JSON ({exc.__class__.__name__}: {exc}): the run folder is "
            "corrupt; rerun the benchmark"
        ) from None
    except OSError as exc:
        raise RunFolderError(f"{path} cannot be read: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} holds a {type(data).__name__}, not an object: corrupt")
    version = data.get("format_version")
    if version not in FORMAT_VERSIONS:
        raise RunFolderError(
            f"{path} has format_version {version!r}, this harness reads {FORMAT_VERSIONS}: "
            "use the harness version that wrote it"
        )
    return data


def validate_meta(meta: dict[str, Any], path: Path) -> None:
    status = meta.get("status")
    if status not in STATUSES:
        raise RunFolderError(f"{path}: status {status!r} is not one of {', '.join(STATUSES)}")
    cells = meta.get("cells", [])
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise RunFolderError(f"{path}: 'cells' must be a list of objects")


def validate_rows(rows: Any, path: Path) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise RunFolderError(f"{path}: 'rows' must be a list; the summary is corrupt")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RunFolderError(f"{path}: rows[{i}] is not an object")
        for key in ("cell_id", "repetition", "endpoints"):
            if key not in row:
                raise RunFolderError(f"{path}: rows[{i}] has no {key!r}; the summary is corrupt")
        if not isinstance(row["endpoints"], dict):
            raise RunFolderError(f"{path}: rows[{i}].endpoints must be an object")
        for name, entry in row["endpoints"].items():
            if not isinstance(entry, dict) or "requests" not in entry or "rps" not in entry:
                raise RunFolderError(
                    f"{path}: rows[{i}].endpoints[{name!r}] lacks requests/rps; corrupt summary"
                )
    return rows
