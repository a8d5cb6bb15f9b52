"""Which fulfillment lines each outbound request carried, read from the envelope it was
sent with: a line's ``request_id`` names only its latest request (an Invoice request
replaces the Shipment one), while the envelope names every line it asked for, for good."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.persistence.models import OutboxMessage

__all__ = ["request_lines"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _line_ids(payload: bytes) -> tuple[int, ...]:
    try:
        root = etree.fromstring(payload, _PARSER)
    except etree.XMLSyntaxError:
        return ()
    found: list[int] = []
    for el in root.iter("{*}FulfillLineId"):
        text = (el.text or "").strip()
        if text.isdigit() and int(text) not in found:
            found.append(int(text))
    return tuple(found)


def request_lines(session: Session, outbox_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """The fulfillment line ids in each fulfillment request of ``outbox_ids``, by outbox id
    (business events and e-mails carry none here)."""
    ids = sorted(set(outbox_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.payload).where(
            OutboxMessage.id.in_(ids), OutboxMessage.kind == "FULFILLMENT_REQUEST"
        )
    )
    return {id_: _line_ids(payload) for id_, payload in rows}
