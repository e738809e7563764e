from __future__ import annotations

import pytest

from harness.config import RunConfig, parse_cpus, parse_duration
from harness.sections import Pinning
from runfolder.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30),
        ("30s", 30),
        ("2m", 120),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1m30s", 90),
        ("0.5s", 0.5),
        (" 10s ", 10),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "3x", "s", "-5s", "1d", "10 s", "m5"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--duration"):
        parse_duration(text)


def test_parse_cpus_ranges() -> None:
    assert parse_cpus("0", "--x") == (0,)
    assert parse_cpus("0-1", "--x") == (0, 1)


@pytest.mark.parametrize("text", ["a", "999", "", "1-x"])
def test_parse_cpus_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--server-cpus"):
        parse_cpus(text, "--server-cpus")


def test_default_pinning_is_disjoint() -> None:
    pin = Pinning.default()
    if pin.enabled:
        assert pin.generator_cpus and pin.server_cpus
        assert not set(pin.generator_cpus) & set(pin.server_cpus)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"targets": ("nope",)}, "--target: unknown value 'nope'"),
        ({"scenarios": ("nope",)}, "--scenario: unknown value 'nope'"),
        ({"servers": ("apache",)}, "--server: unknown value 'apache'"),
        ({"users": 0}, "--users must be > 0"),
        ({"users": -3}, "--users must be > 0"),
        ({"workers": 0}, "--workers must be > 0"),
        ({"repeat": 0}, "--repeat must be > 0"),
        ({"rate": -1.0, "scenarios": ("json",)}, "--rate must be > 0"),
        ({"rate": 100.0, "scenarios": ("browse",)}, "cannot run on the open model"),
        ({"duration": 0.0}, "--duration must be > 0"),
        ({"name": "../etc"}, "--name"),
        ({"shape": "zigzag"}, "--shape"),
        ({"spawn_rate": 0.0}, "--spawn-rate"),
    ],
)
def test_run_config_validation(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RunConfig.build(**changes)


def test_run_config_to_json_round_trips_names() -> None:
    cfg = RunConfig.build(targets=("sync", "async"), scenarios=("json",), rate=50.0)
    data = cfg.to_json()
    assert data["targets"] == ["sync", "async"]
    assert data["rate"] == 50.0
    assert "server_cpus" in data["pinning"]
