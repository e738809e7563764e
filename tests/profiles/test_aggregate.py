"""Aggregation of raw sessions into hotspots.json, HTML, speedscope and folded stacks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from profiles.aggregate import aggregate_run, percentile
from profiles.export import safe_name
from tests.profiles.conftest import close_app, flush
from tests.profiles.profiled_app import create_app
from tests.profiles.synth import write_raw

# The essential parts of speedscope's file format, written from its TypeScript source
# (src/lib/file-format-spec.ts), from which https://www.speedscope.app/file-format-schema.json
# is generated; that URL cannot be fetched here, so this is a reproduction, not a copy.
SPEEDSCOPE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["$schema", "shared", "profiles"],
    "properties": {
        "$schema": {"const": "https://www.speedscope.app/file-format-schema.json"},
        "name": {"type": "string"},
        "activeProfileIndex": {"type": "number"},
        "exporter": {"type": "string"},
        "shared": {
            "type": "object",
            "required": ["frames"],
            "properties": {
                "frames": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": {"type": "string"},
                            "file": {"type": "string"},
                            "line": {"type": "number"},
                            "col": {"type": "number"},
                        },
                    },
                }
            },
        },
        "profiles": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"$ref": "#/definitions/SampledProfile"},
                    {"$ref": "#/definitions/EventedProfile"},
                ]
            },
        },
    },
    "definitions": {
        "ValueUnit": {
            "enum": ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"]
        },
        "SampledProfile": {
            "type": "object",
            "required": ["type", "name", "unit", "startValue", "endValue", "samples", "weights"],
            "properties": {
                "type": {"const": "sampled"},
                "name": {"type": "string"},
                "unit": {"$ref": "#/definitions/ValueUnit"},
                "startValue": {"type": "number"},
                "endValue": {"type": "number"},
                "samples": {
                    "type": "array",
                    "items": {"type": "array", "items": {"type": "number"}},
                },
                "weights": {"type": "array", "items": {"type": "number"}},
            },
        },
        "EventedProfile": {
            "type": "object",
            "required": ["type", "name", "unit", "startValue", "endValue", "events"],
            "properties": {
                "type": {"const": "evented"},
                "name": {"type": "string"},
                "unit": {"$ref": "#/definitions/ValueUnit"},
                "startValue": {"type": "number"},
                "endValue": {"type": "number"},
                "events": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type", "at", "frame"],
                        "properties": {
                            "type": {"enum": ["O", "C"]},
                            "at": {"type": "number"},
                            "frame": {"type": "number"},
                        },
                    },
                },
            },
        },
    },
}

HOTSPOT_KEYS = {"function", "file", "line", "self_ms", "total_ms", "pct", "share"}
ENDPOINT_KEYS = {
    "profiled_requests",
    "wall_ms_mean",
    "cpu_ms_mean",
    "p95_wall_ms",
    "tail_requests",
    "hotspots",
    "tail_hotspots",
    "files",
}
FOLDED_LINE = re.compile(r"^[^;\n]+(;[^;\n]+)* \d+$")


def validate_speedscope(doc: dict) -> None:
    jsonschema.Draft7Validator.check_schema(SPEEDSCOPE_SCHEMA)
    jsonschema.validate(doc, SPEEDSCOPE_SCHEMA)
    n = len(doc["shared"]["frames"])
    for prof in doc["profiles"]:
        assert len(prof["samples"]) == len(prof["weights"])
        assert all(0 <= i < n for stack in prof["samples"] for i in stack)
        assert prof["endValue"] == pytest.approx(sum(prof["weights"]), rel=1e-6)


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    """A run folder whose raw sessions were recorded by the middleware on the test app."""
    run = tmp_path_factory.mktemp("agg") / "run"
    for cell, paths in {"sync-a": ["/cpu", "/db", "/json"], "sync-b": ["/json"]}.items():
        out = run / "cells" / cell / "r0" / "profiles"
        app = create_app({"PROFILE_DIR": str(out), "PROFILE_RATE": 1.0, "PROFILE_INTERVAL": 0.0001})
        client = app.test_client()
        try:
            for _ in range(12):
                for p in paths:
                    assert client.get(p).status_code == 200
            flush(app)
        finally:
            close_app(app)
    aggregate_run(run)
    return run


def test_hotspots_json_has_the_contract_shape(recorded_run):
    doc = json.loads((recorded_run / "profiles" / "hotspots.json").read_text())
    assert set(doc) == {"format_version", "cells", "speedscope"} and doc["format_version"] == 1
    assert doc["speedscope"] == "profiles/speedscope.json"
    assert set(doc["cells"]) == {"sync-a", "sync-b"}
    eps = doc["cells"]["sync-a"]["endpoints"]
    assert set(eps) == {"GET /cpu", "GET /db", "GET /json"}
    for ep in eps.values():
        assert set(ep) == ENDPOINT_KEYS and ep["profiled_requests"] == 12
        assert ep["wall_ms_mean"] > 0 and ep["p95_wall_ms"] > 0 and ep["tail_requests"] >= 1
        assert set(ep["files"]) == {"html", "tail_html", "folded"}
        assert (recorded_run / ep["files"]["html"]).is_file()
        assert (recorded_run / ep["files"]["folded"]).is_file()
        # a tail of sub-interval requests can hold no sample at all: then no page
        tail = ep["files"]["tail_html"]
        assert (recorded_run / tail).is_file() if tail else ep["tail_hotspots"] == []
        for row in ep["hotspots"] + ep["tail_hotspots"]:
            assert set(row) == HOTSPOT_KEYS
            assert 0 < row["pct"] <= 100 and 0 < row["share"] <= 1
            assert row["self_ms"] <= row["total_ms"] + 1e-9
        totals = [r["total_ms"] for r in ep["hotspots"]]
        assert totals == sorted(totals, reverse=True)
        files = {r["file"] for r in ep["hotspots"]}
        assert not any("middleware" in f or "pyinstrument" in f for f in files)
        assert not any(r["function"].endswith("full_dispatch_request") for r in ep["hotspots"])


def test_workload_functions_are_recorded_by_the_middleware(recorded_run):
    """The real middleware's sessions name the app's own functions, in the app's file.
    Where they rank depends on the machine's timing: the ranking is checked below on
    sessions with known times."""
    eps = json.loads((recorded_run / "profiles" / "hotspots.json").read_text())["cells"]["sync-a"]
    found = {ep: {r["function"] for r in v["hotspots"]} for ep, v in eps["endpoints"].items()}
    assert {"crunch_numbers", "fib"} <= found["GET /cpu"]
    assert "fetch_rows" in found["GET /db"], eps["endpoints"]["GET /db"]["hotspots"][:6]
    cpu = {r["function"]: r for r in eps["endpoints"]["GET /cpu"]["hotspots"]}
    assert cpu["crunch_numbers"]["file"] == "tests/profiles/profiled_app.py"
    assert cpu["crunch_numbers"]["share"] == 1.0


def test_hotspots_rank_by_time_per_request(run_dir):
    """Sessions with known times: ranked by total ms per request (the caller first), then self."""
    reqs = [
        ("GET /db", 25.0, [(["view", "fetch_rows"], 0.020), (["view", "render"], 0.003)]),
        ("GET /db", 25.0, [(["view", "fetch_rows"], 0.022), (["view", "encode"], 0.001)]),
    ]
    write_raw(run_dir / "cells/cell-a/r0/profiles/1-00000.json", reqs)
    ep = json.loads(aggregate_run(run_dir).read_text())["cells"]["cell-a"]["endpoints"]["GET /db"]
    assert [r["function"] for r in ep["hotspots"][:3]] == ["view", "fetch_rows", "render"]
    by_name = {r["function"]: r for r in ep["hotspots"]}
    assert by_name["fetch_rows"]["self_ms"] == pytest.approx(21.0)
    assert by_name["fetch_rows"]["share"] == 1.0 and by_name["render"]["share"] == 0.5


def test_speedscope_file_validates_with_one_profile_per_endpoint(recorded_run):
    doc = json.loads((recorded_run / "profiles" / "speedscope.json").read_text())
    validate_speedscope(doc)
    names = [p["name"] for p in doc["profiles"]]
    assert names == ["sync-a GET /cpu", "sync-a GET /db", "sync-a GET /json", "sync-b GET /json"]
    assert all(p["type"] == "sampled" and p["unit"] == "milliseconds" for p in doc["profiles"])


def test_folded_stacks_are_flamegraph_input(recorded_run):
    doc = json.loads((recorded_run / "profiles" / "hotspots.json").read_text())
    ep = doc["cells"]["sync-a"]["endpoints"]["GET /cpu"]
    lines = (recorded_run / ep["files"]["folded"]).read_text().splitlines()
    assert lines and all(FOLDED_LINE.match(line) for line in lines)
    assert any(";fib (tests/profiles/profiled_app.py:" in line for line in lines)
    total_us = sum(int(line.rsplit(" ", 1)[1]) for line in lines)
    sampled_ms = max(r["total_ms"] for r in ep["hotspots"]) * ep["profiled_requests"]
    assert total_us / 1000 >= sampled_ms * 0.99


def test_html_per_endpoint_is_a_pyinstrument_page(recorded_run):
    ep = json.loads((recorded_run / "profiles" / "hotspots.json").read_text())["cells"]["sync-a"]
    html = (recorded_run / ep["endpoints"]["GET /cpu"]["files"]["html"]).read_text()
    assert html.startswith("<!DOCTYPE html>") and "crunch_numbers" in html


def test_tail_profile_shows_what_the_slow_requests_did(run_dir):
    fast = [("GET /x", 1.0, [(["view", "common"], 0.0009)])] * 19
    slow = [("GET /x", 9.0, [(["view", "common"], 0.0009), (["view", "slow_path"], 0.008)])]
    write_raw(run_dir / "cells/cell-a/r0/profiles/1-00000.json", fast + slow)
    ep = json.loads(aggregate_run(run_dir).read_text())["cells"]["cell-a"]["endpoints"]["GET /x"]
    assert ep["profiled_requests"] == 20 and ep["tail_requests"] == 1
    assert ep["p95_wall_ms"] == pytest.approx(percentile([1.0] * 19 + [9.0], 0.95))
    tail = {r["function"]: r for r in ep["tail_hotspots"]}
    assert tail["slow_path"]["share"] == 1.0 and tail["slow_path"]["total_ms"] == pytest.approx(8)
    typical = {r["function"]: r for r in ep["hotspots"]}
    assert typical["slow_path"]["share"] == pytest.approx(0.05)
    assert typical["common"]["self_ms"] == pytest.approx(0.9)
    assert typical["view"]["pct"] == pytest.approx(100)
    assert ep["files"]["tail_html"] and (run_dir / ep["files"]["tail_html"]).is_file()


def test_frames_under_one_percent_are_kept_in_speedscope_and_folded(run_dir):
    reqs = [("GET /x", 10.0, [(["view", "big"], 0.0099), (["view", "tiny"], 0.00001)])] * 3
    write_raw(run_dir / "cells/cell-a/r0/profiles/1-00000.json", reqs)
    doc = json.loads(aggregate_run(run_dir).read_text())
    speedscope = json.loads((run_dir / doc["speedscope"]).read_text())
    validate_speedscope(speedscope)
    assert "tiny" in {f["name"] for f in speedscope["shared"]["frames"]}
    files = doc["cells"]["cell-a"]["endpoints"]["GET /x"]["files"]
    folded = (run_dir / files["folded"]).read_text()
    assert "view (app.py:10);tiny (app.py:20) 30\n" in folded


def test_corrupt_and_foreign_files_are_skipped(run_dir):
    prof = run_dir / "cells/cell-a/r0/profiles"
    write_raw(prof / "1-00000.json", [("GET /x", 1.0, [(["view"], 0.001)])])
    (prof / "2-00000.json").write_text('{"sessions": [')
    (prof / "3-00000.json").write_text('{"kind": "something-else"}')
    ep = json.loads(aggregate_run(run_dir).read_text())["cells"]["cell-a"]["endpoints"]
    assert ep["GET /x"]["profiled_requests"] == 1


def test_an_unprofiled_run_gives_an_empty_table(tmp_path):
    (tmp_path / "cells" / "c" / "r0").mkdir(parents=True)
    doc = json.loads(aggregate_run(tmp_path).read_text())
    assert doc["cells"] == {}
    validate_speedscope(json.loads((tmp_path / "profiles" / "speedscope.json").read_text()))


def test_safe_names_are_file_names_and_distinct():
    a = safe_name("sync-gunicorn-gthread-db", "GET /api/items/<int:item_id>")
    b = safe_name("sync-gunicorn-gthread-db", "GET /api/items/_int_item_id_")
    assert a != b and re.fullmatch(r"[a-z0-9_.-]+", a)
