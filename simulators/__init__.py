"""Simulated external systems for demos and tests: ``omgw simulate fulfillment``."""

from __future__ import annotations

from simulators.fulfillment import (
    ENDPOINT_PATH,
    FulfillmentSimulator,
    RunningSimulator,
    running,
    serve_simulator,
)
from simulators.fulfillment_options import SimulatorOptions

__all__ = [
    "ENDPOINT_PATH",
    "FulfillmentSimulator",
    "RunningSimulator",
    "SimulatorOptions",
    "running",
    "serve_simulator",
]
