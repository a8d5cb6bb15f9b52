"""Connectors: how omgw reaches and authenticates to external systems.

Imports no spyne, no sqlalchemy and nothing of ``gateway`` (DESIGN §4). It holds the
registry's model (:mod:`connectors.registry`) and the wallet's cipher
(:mod:`connectors.wallet`); transports and dispatch come with their issue.
"""
