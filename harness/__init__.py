"""Orchestration: configuration, servers, load runs, run storage, CLI."""
