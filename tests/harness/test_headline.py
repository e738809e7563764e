"""The suite's headline: the slowest browse endpoints named with their top functions."""

from __future__ import annotations

import json
from pathlib import Path

from harness.segments.suite.headline import add_hotspots


def test_the_slowest_endpoint_comes_with_its_hotspot(tmp_path: Path) -> None:
    headline = {
        "cell_id": "sync-gunicorn-gthread-browse",
        "target": "sync",
        "server": "gunicorn-gthread",
        "users": 16,
        "rps": 240.0,
        "endpoints": [
            {
                "endpoint": "POST /login",
                "requests": 90,
                "rps": 9.0,
                "error_pct": 0.0,
                "p50": 310.0,
                "p99": 820.0,
                "thin": ["p99"],
                "hotspots": [],
            },
            {
                "endpoint": "GET /items",
                "requests": 900,
                "rps": 90.0,
                "error_pct": 0.0,
                "p50": 4.0,
                "p99": 30.0,
                "thin": [],
                "hotspots": [],
            },
        ],
    }
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "hotspots.json").write_text(
        json.dumps(
            {
                "cells": {
                    "sync-gunicorn-gthread-browse": {
                        "endpoints": {
                            "POST /login": {
                                "hotspots": [
                                    {"function": "render", "self_ms": 0.4},
                                    {"function": "_hashlib.scrypt", "self_ms": 95.123},
                                    {"function": "", "self_ms": 200.0},
                                ]
                            }
                        }
                    }
                }
            }
        )
    )
    add_hotspots(tmp_path, headline)
    login = headline["endpoints"][0]
    assert [h["function"] for h in login["hotspots"]] == ["_hashlib.scrypt", "render"]
    assert "POST /login (p99 820.0 ms (thin))" in headline["sentence"]
    assert "_hashlib.scrypt takes 95.1 ms per request" in headline["sentence"]
    assert headline["endpoints"][1]["hotspots"] == []  # no profiles for it: nothing invented
