"""The direct envelope writer against zeep's rendering of the same document: equal bytes
for any document, and valid against HeaderTL.xsd (connectors/outbound.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from connectors.outbound import (
    OUTBOUND_DIR,
    TL_NS,
    RequestDocument,
    RequestLine,
    build_envelope,
    build_envelope_with_zeep,
)

# XML 1.0 text: no control characters, surrogates or noncharacters such as U+FFFE
# (neither writer can carry them: lxml refuses both alike)
TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Cn"), whitelist_characters="\t\n"),
    min_size=1,
    max_size=20,
)
OPTIONAL_TEXT = st.none() | TEXT
WHEN = st.none() | st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)
).flatmap(
    lambda d: st.sampled_from(
        [d, d.replace(tzinfo=UTC), d.replace(tzinfo=timezone(timedelta(hours=-5)))]
    )
)
QTY = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("1e9"), places=None).filter(
    lambda d: d.is_finite()
) | st.sampled_from([Decimal("10"), Decimal("5.50"), Decimal("1E+2"), Decimal("0.001")])
IDS = st.integers(min_value=1, max_value=2**53)

LINES = st.builds(
    RequestLine,
    line_id=IDS,
    line_number=st.integers(1, 9999),
    source_line_id=TEXT,
    source_line_number=OPTIONAL_TEXT,
    fulfill_line_id=IDS,
    fulfill_line_number=st.integers(1, 999),
    product_number=TEXT,
    product_description=OPTIONAL_TEXT,
    ordered_qty=QTY,
    uom_code=TEXT,
    organization=OPTIONAL_TEXT,
    ship_set_name=OPTIONAL_TEXT,
    requested_ship_date=WHEN,
    scheduled_ship_date=WHEN,
    status_code=TEXT,
)
DOCUMENTS = st.builds(
    RequestDocument,
    request_id=IDS,
    task_type=TEXT,
    operation=TEXT,
    interface_type=OPTIONAL_TEXT,
    header_id=IDS,
    order_number=TEXT,
    source_order_system=TEXT,
    source_order_id=TEXT,
    source_order_number=TEXT,
    source_order_revision=OPTIONAL_TEXT,
    buying_party_number=OPTIONAL_TEXT,
    buying_party_name=OPTIONAL_TEXT,
    customer_po_number=OPTIONAL_TEXT,
    currency_code=OPTIONAL_TEXT,
    business_unit_name=OPTIONAL_TEXT,
    ordered_date=WHEN,
    lines=st.lists(LINES, min_size=1, max_size=4).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(
    doc=DOCUMENTS,
    operation=st.sampled_from(["processFulfillmentRequest", "processFulfillmentRequestSync"]),
    reply_to=st.none() | st.just("http://127.0.0.1:8080/fscmService/Reply?x=1&y=<2>"),
)
def test_the_direct_writer_writes_what_zeep_renders(doc, operation, reply_to):
    args = {"message_id": "urn:uuid:m-1", "to": "http://wms/x?a=1&b=2", "reply_to": reply_to}
    assert build_envelope(doc, operation, **args) == build_envelope_with_zeep(
        doc, operation, **args
    )


def test_a_fifty_line_request_is_valid_headertl():
    line = RequestLine(
        1, 1, "L1", "1", 9, 1, "AS54888", "a <desc> & more", Decimal("5.50"), "Ea", "M1",
        "SS1", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 120),
        "AWAIT_SHIP",
    )  # fmt: skip
    doc = RequestDocument(
        5, "Shipment", "Create", "B2B", 7, "100001", "LEGACY", "S1", "SO1", "1", "P1",
        "Acme & <Co>", "PO1", "USD", "Vision Operations", datetime(2026, 1, 2, tzinfo=UTC),
        tuple(line for _ in range(50)),
    )  # fmt: skip
    raw = build_envelope(doc, "processFulfillmentRequest", message_id="m", to="t", reply_to=None)
    body = etree.fromstring(raw).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    schema = etree.XMLSchema(etree.parse(str(OUTBOUND_DIR / "HeaderTL.xsd")))
    tl = body[0]
    assert tl.tag == f"{{{TL_NS}}}headerTL"
    assert schema.validate(tl), schema.error_log
    assert len(tl.findall(f"{{{TL_NS}}}Line")) == 50
    assert tl.findtext(f"{{{TL_NS}}}BuyingPartyName") == "Acme & <Co>"
