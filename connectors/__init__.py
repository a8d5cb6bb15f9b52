"""Connectors: how omgw reaches and authenticates to external systems.

Imports no spyne, no sqlalchemy and nothing of ``gateway`` (DESIGN §4). For now it
holds the wallet's cipher; the registry, transports and dispatch come with their issues.
"""

from connectors.wallet import MasterKey, SecretBox, WalletError

__all__ = ["MasterKey", "SecretBox", "WalletError"]
