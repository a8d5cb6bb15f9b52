"""No decimal is ever written in exponent form: ``Decimal("1E+1")`` is ``10`` on the wire.

Random quantities and amounts, in every form a ``Decimal`` can take (trailing zeros,
exponents either way), are written through the answers that carry numbers and
validated against the published schema, as a strict client parses them.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.server import build_spyne_app
from gateway.services.convert import make, measure
from gateway.services.types import AmountType, MeasureType, types_of
from gateway.soap.operations import operations_of
from tests.common.published import check_answer
from tests.contract import roundtrip as rt

_INFO = types_of("OrderInformationService")
_DETAILS = operations_of(build_spyne_app("OrderInformationService"))["GetOrderDetails"]

#: any finite decimal, written every way: 10, 1E+1, 10.000, 0.00010, 1.5E-7 …
decimals = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.integers(min_value=-12, max_value=12),
)


def _lexical(body: bytes) -> list[str]:
    from lxml import etree

    root = etree.fromstring(body)
    names = ("OrderedQuantity", "ShippedQuantity", "UnitListPrice", "CurrencyConversionRate")
    return [el.text for name in names for el in root.iter(f"{{*}}{name}") if el.text]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(quantity=decimals, amount=decimals, rate=decimals)
def test_every_decimal_of_an_answer_is_a_schema_decimal(quantity, amount, rate):
    line = make(
        _INFO["Line"],
        OrderedQuantity=measure(quantity, "Ea"),
        ShippedQuantity=MeasureType(value=quantity, unitCode="Ea"),
        UnitListPrice=AmountType(value=amount, currencyCode="USD"),
    )
    order = make(_INFO["Order"], CurrencyConversionRate=rate, OrderLine=[line])
    body = _DETAILS.envelope([order])
    check_answer("OrderInformationService", body)
    written = _lexical(body)
    assert len(written) == 4
    assert all("E" not in text and "e" not in text for text in written), written
    assert Decimal(written[0]) == quantity
    assert [Decimal(t) for t in written[1:]] == [quantity, amount, rate]


#: quantities omgw accepts: above zero, at most 4 decimals and 14 integer digits
quantities = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=1, max_value=10**9),
    st.integers(min_value=-4, max_value=4),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(quantity=quantities, amount=decimals)
def test_quantities_and_amounts_sent_come_back_as_schema_decimals(sqlite_gateway, quantity, amount):
    key = f"NUM{abs(hash((quantity, amount))) % 10**12}"
    values = {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": "LEGACY",
        "SourceTransactionNumber": key,
        "Line": [
            {
                "SourceTransactionLineIdentifier": "1",
                "ProductNumber": "AS54888",
                # the client's own lexical form, exponent or not, as xs:decimal allows it
                "OrderedQuantity": (format(quantity, "f"), "Ea"),
                "UnitListPrice": (format(amount, "f"), "USD"),
            }
        ],
    }
    rt.answer(sqlite_gateway, "OrderImportService", rt.create_request(values))
    (order,) = rt.answer(sqlite_gateway, "OrderInformationService", rt.details_request(key), "all")
    line = order.find(f"{{{rt.INFO.namespace}}}OrderLine")
    written = {
        name: line.findtext(f"{{{rt.INFO.namespace}}}{name}")
        for name in ("OrderedQuantity", "UnitListPrice")
    }
    assert all("E" not in t for t in written.values()), written
    assert Decimal(written["OrderedQuantity"]) == quantity
    assert Decimal(written["UnitListPrice"]) == amount
