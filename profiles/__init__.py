"""Profiling under load: sampled pyinstrument middleware, aggregation, exporters, diff."""
