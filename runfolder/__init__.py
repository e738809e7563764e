"""The run folder: its format, and the only code that writes or reads one.

Beneath both ``harness/`` (which measures and writes) and ``reports/`` (which reads
and renders); it imports neither. See docs/architecture.md, "Run folder".

- ``errors``:  the error classes every part raises to a user
- ``storage``: atomic files, folder creation, ``latest``, ``resolve_run``
- ``window``:  the one steady-window rule
- ``figures``: recorder windows -> the figures of a summary row
- ``writer``:  ``RunWriter``, meta.json and summary.json over a run's life
- ``reader``:  ``Run`` / ``load_run``, a validated folder for reports
- ``hdr``:     fast merging of encoded histograms for readers
"""
