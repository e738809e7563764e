"""Locust scenarios and the latency recorder: the only code of the project that imports locust.

``histograms`` and ``catalog`` do not import locust: the harness may import them.
"""
