"""omgw gateway: the hub that wires SOAP services, orders and persistence together.

This package is the composition root (DESIGN §4): it may import ``connectors`` and
``routing``; they never import it.

Importing it makes every log record of the process redacted as it is made
(:mod:`gateway.security.log_redaction`): every omgw process (the CLI, gunicorn's master
and its forked workers, a WSGI server loading :func:`gateway.server.build_app`) imports
this package before it logs anything of its own, so no record escapes, at any level.

It also makes spyne importable on Python 3.12 and 3.13 (:mod:`gateway.spyne_compat`),
first, before any module of the package can import spyne.
"""

from gateway import spyne_compat

spyne_compat.install()

from gateway.security import log_redaction  # noqa: E402  (after spyne_compat.install())

log_redaction.install()
