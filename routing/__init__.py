"""Routing rules engine (pure: stdlib only, no I/O).

Filled by the routing issue; kept as a package now so the import-direction contracts
in ``setup.cfg`` are in force from the first commit.
"""

__all__: list[str] = []
