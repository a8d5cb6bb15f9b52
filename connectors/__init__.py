"""Connectors: how omgw reaches and authenticates to external systems.

Imports no spyne, no sqlalchemy and nothing of ``gateway`` (DESIGN §4). It holds the
specs of the systems omgw reaches (:mod:`connectors.connector_specs`, read through
:mod:`connectors.spec_reader`), the wallet's cipher (:mod:`connectors.secret_box`), outbound
envelopes (:mod:`connectors.outbound`), the credentials added at send time
(:mod:`connectors.ws_security`), sending (:mod:`connectors.dispatch`)
and the verdict on each outcome (:mod:`connectors.verdicts`); the business events OM
pushes (:mod:`connectors.push_payload`, written by :mod:`connectors.push_payload_writer`
and read by a subscriber with :mod:`connectors.push_payload_reader`); trigger points
(:mod:`connectors.trigger_points`) and e-mail (:mod:`connectors.mail_message`,
:mod:`connectors.mail_sender`). Every
error it raises derives from :class:`connectors.connector_errors.ConnectorError`.
"""
