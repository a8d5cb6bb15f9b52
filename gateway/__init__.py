"""omgw gateway: the hub that wires SOAP services, orders and persistence together.

This package is the composition root (DESIGN §4): it may import ``connectors`` and
``routing``; they never import it.
"""
