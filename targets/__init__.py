"""The reference Flask apps the harness measures, their upstream service and verify.

Each variant is ``targets.<id>_app:create_app(config=None)``; ``targets.catalog`` lists
them without importing Flask. Shared blueprints, templates and the data layer live in
``targets.common``: a variant changes the technique, never the workload.
"""
