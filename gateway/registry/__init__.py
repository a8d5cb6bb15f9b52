"""The registry as stored: source systems, value maps, connectors, wallet entries, task
types and processes, every change audited (DESIGN §2, §7), and the copy each process
holds of them (:mod:`registry_snapshot`).

The model lives in :mod:`connectors.connector_specs` and
:mod:`gateway.orchestration_model`; this package persists it and is the one place that
checks references between its parts.
"""
