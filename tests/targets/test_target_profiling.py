"""The PROFILE_DIR hook installs the profiling middleware (profiles/) on every variant."""

from __future__ import annotations

from profiles.middleware import HEADER, profiler_of


def test_profile_dir_installs_the_profiler(make_app, tmp_path):
    for variant in ("sync", "async"):
        out = tmp_path / f"profiles-{variant}"
        app = make_app(variant, PROFILE_DIR=str(out), PROFILE_RATE=1.0)
        prof = profiler_of(app)
        assert prof is not None
        try:
            client = app.test_client()
            for path in ("/json", "/db"):
                response = client.get(path)
                assert response.status_code == 200 and response.headers.get(HEADER) == "1"
            prof.sink.flush()
            assert list(out.glob("*.json"))
        finally:
            prof.sink.stop()


def test_no_profiler_without_profile_dir(make_app, monkeypatch):
    monkeypatch.delenv("FLASK_PROFILE_DIR", raising=False)
    app = make_app("sync")
    assert profiler_of(app) is None
    assert HEADER not in app.test_client().get("/json").headers
