"""Every quantity omgw accepts reads back exactly, on SQLite as on PostgreSQL.

omgw accepts quantities above zero with at most 4 decimals and 14 integer digits
(``gateway/orders/limits.py``): up to 18 significant digits, more than an 8-byte float
holds. Values go in through a real server (createOrders, processFulfillmentResponse) and
come back through GetOrderDetails and the ORM; many more go through the ORM alone, over
the column type's whole range (zero and negatives included); SQL comparison, ordering,
``-`` and ``SUM`` on the columns give the exact answers; and a database written by the
old column type keeps its rows through the migration.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session
from zeep.exceptions import Fault

from gateway.persistence.db import alembic_config, create_engine_for, make_session_factory, migrate
from gateway.persistence.models import FulfillLine, OrderHeader, OrderLine, SourceSystem
from tests.common.orders import fline_ids, response, shipped
from tests.common.soap import zeep_fault_code
from tests.common.state import snapshot, unchanged

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

LARGEST = Decimal("99999999999999.9999")
SMALLEST = Decimal("0.0001")
#: the values the hostile-client test saw rounded on SQLite (to 1E+14 and …5684)
ROUNDED_BEFORE = ["99999999999999.9999", "12345678901234.5678"]

#: quantities omgw accepts, written with up to 4 decimals
accepted = st.one_of(
    st.decimals(min_value=SMALLEST, max_value=LARGEST, places=4),
    st.integers(min_value=1, max_value=10**14 - 1).map(Decimal),
    st.integers(min_value=1, max_value=10**18 - 1).map(lambda n: Decimal(n).scaleb(-4)),
)
#: anything the columns hold: NUMERIC(18, 4)'s whole range, zero and negatives included
storable = st.one_of(
    st.decimals(min_value=-LARGEST, max_value=LARGEST, places=4),
    st.integers(min_value=-(10**18) + 1, max_value=10**18 - 1).map(lambda n: Decimal(n).scaleb(-4)),
    st.sampled_from([Decimal(0), LARGEST, -LARGEST, SMALLEST, -SMALLEST]),
)
#: amounts are kept as sent (services.attributes): any xs:decimal, long ones included
amounts = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.integers(min_value=-15, max_value=5),
)


def _examples(n: int) -> settings:
    """``n`` examples, each as slow as a real call on a loaded machine may be."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def _text(value: Decimal) -> str:
    """``value`` as an xs:decimal lexical form (zeep would write ``1E+1`` as is)."""
    return format(value, "f")


def _order(key: str, quantities: list[Decimal], amount: Decimal | None = None) -> dict[str, Any]:
    price = (
        {}
        if amount is None
        else {"UnitListPrice": {"_value_1": _text(amount), "currencyCode": "USD"}}
    )
    return {
        "SourceTransactionIdentifier": key,
        "SourceTransactionSystem": "LEGACY",
        "SourceTransactionNumber": f"SO-{key}",
        "Line": [
            {
                "SourceTransactionLineIdentifier": f"L{i}",
                "ProductNumber": "AS54888",
                "OrderedQuantity": {"_value_1": _text(q), "unitCode": "Ea"},
                **price,
            }
            for i, q in enumerate(quantities, start=1)
        ],
    }


def _details(info: Any, key: str) -> Any:
    (got,) = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": f"SO-{key}"}])
    return got


def _stored(gateway: Any, key: str) -> list[tuple[Decimal, Decimal, Decimal | None]]:
    """(ordered, fulfillment line, shipped) quantities of order ``key``, line by line."""
    with gateway.runtime.sessions() as s:
        rows = s.execute(
            select(OrderLine.ordered_quantity, FulfillLine.quantity, FulfillLine.shipped_quantity)
            .join(FulfillLine, FulfillLine.order_line_id == OrderLine.id)
            .join(OrderHeader, OrderHeader.id == OrderLine.header_id)
            .where(OrderHeader.source_order_id == key)
            .order_by(OrderLine.line_number, FulfillLine.fulfill_line_number)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


# -- through a real server -----------------------------------------------------------------


@_examples(30)
@example(quantities=[Decimal(v) for v in ROUNDED_BEFORE], amount=Decimal("1.5"))
@example(quantities=[LARGEST, SMALLEST, Decimal("1.0001")], amount=Decimal("-0.000000000000001"))
@given(quantities=st.lists(accepted, min_size=1, max_size=4), amount=amounts)
def test_ordered_quantities_read_back_exactly(gateway, imports, info, quantities, amount):
    key = uuid.uuid4().hex[:12].upper()
    imports.service.createOrders(request={"Order": [_order(key, quantities, amount)]})
    got = _details(info, key)
    assert [ln.OrderedQuantity._value_1 for ln in got.OrderLine] == quantities
    assert [ln.UnitListPrice._value_1 for ln in got.OrderLine] == [amount] * len(quantities)
    assert _stored(gateway, key) == [(q, q, None) for q in quantities]


def _open_after_shipping(gateway, imports, info, ofrs, ordered: Decimal, sent: Decimal):
    key = uuid.uuid4().hex[:12].upper()
    (created,) = imports.service.createOrders(request={"Order": [_order(key, [ordered])]})
    (fline,) = fline_ids(created)
    answer = ofrs.service.processFulfillmentResponse(
        **response(f"R-{key}", [shipped(fline, _text(sent))])
    )
    assert answer.OverallStatusCode == "SUCCESS"
    got = _details(info, key)
    by_id = {ln.FulfillLineIdentifier: ln for ln in got.OrderLine}
    assert by_id[fline].ShippedQuantity._value_1 == sent
    assert by_id[fline].OrderedQuantity._value_1 == sent
    (rest,) = (ln for i, ln in by_id.items() if i != fline)
    assert getattr(rest.ShippedQuantity, "_value_1", None) is None  # nil: nothing shipped
    return rest.OrderedQuantity._value_1, _stored(gateway, key)


@pytest.mark.parametrize(
    ("ordered", "sent", "left"),
    [
        ("3", "1.0001", "1.9999"),
        ("99999999999999.9999", "12345678901234.5678", "87654321098765.4321"),
        ("99999999999999.9999", "0.0001", "99999999999999.9998"),
        ("12345678901234.5678", "12345678901234.5677", "0.0001"),
    ],
)
def test_a_partial_shipment_leaves_exactly_the_rest_open(
    gateway, imports, info, ofrs, ordered, sent, left
):
    ordered, sent, left = Decimal(ordered), Decimal(sent), Decimal(left)
    open_quantity, stored = _open_after_shipping(gateway, imports, info, ofrs, ordered, sent)
    assert open_quantity == left
    assert stored == [(ordered, sent, sent), (ordered, left, None)]


@_examples(12)
@given(data=st.data())
def test_any_partial_shipment_leaves_exactly_the_rest_open(gateway, imports, info, ofrs, data):
    ordered = data.draw(accepted.filter(lambda q: q > SMALLEST))
    sent = data.draw(st.decimals(min_value=SMALLEST, max_value=ordered - SMALLEST, places=4))
    open_quantity, stored = _open_after_shipping(gateway, imports, info, ofrs, ordered, sent)
    assert open_quantity == ordered - sent
    assert stored == [(ordered, sent, sent), (ordered, ordered - sent, None)]


@pytest.mark.parametrize(
    "qty", ["1.00000000000000000000000000001", "2.000000000000000000000000000005"]
)
def test_a_quantity_with_more_decimals_than_a_context_holds_is_refused(gateway, imports, qty):
    """Decimal arithmetic rounds to 28 digits: such a quantity must not pass as ``1``."""
    key = uuid.uuid4().hex[:12].upper()
    before = snapshot(gateway.runtime)
    with pytest.raises(Fault) as exc:
        imports.service.createOrders(request={"Order": [_order(key, [Decimal(qty)])]})
    assert zeep_fault_code(exc.value) == "OMGW-QUANTITY_INVALID"
    assert "more than 4 decimals" in exc.value.message
    unchanged(gateway.runtime, before)


def test_a_shipped_quantity_with_more_decimals_than_a_context_holds_is_refused(
    gateway, imports, ofrs
):
    key = uuid.uuid4().hex[:12].upper()
    (created,) = imports.service.createOrders(request={"Order": [_order(key, [Decimal(3)])]})
    (fline,) = fline_ids(created)
    with pytest.raises(Fault) as exc:
        ofrs.service.processFulfillmentResponse(
            **response(f"R-{key}", [shipped(fline, "1.00000000000000000000000000001")])
        )
    assert zeep_fault_code(exc.value) == "OMGW-QUANTITY_INVALID"
    assert _stored(gateway, key) == [(Decimal(3), Decimal(3), None)]


# -- through the ORM ------------------------------------------------------------------------


@pytest.fixture
def store(fresh_database_url: str) -> Iterator[tuple[sa.Engine, int]]:
    """A migrated database of its own holding one order line; the line's id."""
    engine = create_engine_for(fresh_database_url)
    migrate(engine)
    with Session(engine) as s, s.begin():
        system = SourceSystem(code="EXACT", name="Exact", order_capture=True)
        header = OrderHeader(
            order_number="1",
            source_system=system,
            source_order_id="S1",
            source_order_number="S1",
            revision="1",
            revision_seq=1,
            status="OPEN",
        )
        line = OrderLine(
            header=header,
            line_number=1,
            source_line_id="L1",
            source_line_number="1",
            product_number="P",
            ordered_quantity=Decimal(1),
            uom_code="Ea",
            status="AWAIT_SHIPPING",
        )
        s.add(line)
        s.flush()
        line_id = line.id
    yield engine, line_id
    engine.dispose()


def _put_flines(engine: sa.Engine, line_id: int, values: list[tuple[Decimal, Decimal | None]]):
    with Session(engine) as s, s.begin():
        s.execute(sa.delete(FulfillLine))
        line = s.get_one(OrderLine, line_id)
        s.add_all(
            FulfillLine(
                header_id=line.header_id,
                order_line_id=line_id,
                fulfill_line_number=n,
                quantity=q,
                shipped_quantity=shipped_q,
                status="AWAIT_SHIP",
            )
            for n, (q, shipped_q) in enumerate(values, start=1)
        )


@_examples(500)
@example(value=Decimal("99999999999999.9999"), shipped_value=Decimal("12345678901234.5678"))
@example(value=Decimal(0), shipped_value=-LARGEST)
@given(value=storable, shipped_value=storable)
def test_every_storable_value_reads_back_exactly(store, value, shipped_value):
    engine, line_id = store
    with Session(engine) as s, s.begin():
        s.get_one(OrderLine, line_id).ordered_quantity = value
    _put_flines(engine, line_id, [(value, shipped_value)])
    with make_session_factory(engine, readonly=True)() as s:
        line = s.get_one(OrderLine, line_id)
        fline = s.scalars(select(FulfillLine)).one()
        assert (line.ordered_quantity, fline.quantity, fline.shipped_quantity) == (
            value,
            value,
            shipped_value,
        )
        # read back with the column's 4 decimals, as NUMERIC(18, 4) gives them
        assert line.ordered_quantity.as_tuple().exponent == -4
        # the difference computed by the database, not in Python
        difference = s.scalar(select(FulfillLine.quantity - FulfillLine.shipped_quantity))
        assert difference == value - shipped_value


@_examples(100)
@given(values=st.lists(storable, min_size=1, max_size=9), pivot=storable)
def test_sql_ordering_comparison_and_sum_are_exact(store, values, pivot):
    engine, line_id = store
    _put_flines(engine, line_id, [(v, None) for v in values])
    with make_session_factory(engine, readonly=True)() as s:
        ordered = s.scalars(select(FulfillLine.quantity).order_by(FulfillLine.quantity)).all()
        above = s.scalar(
            select(func.count()).select_from(FulfillLine).where(FulfillLine.quantity > pivot)
        )
        at = s.scalar(
            select(func.count()).select_from(FulfillLine).where(FulfillLine.quantity == pivot)
        )
        total = s.scalar(select(func.sum(FulfillLine.quantity)))
        smallest, largest = s.execute(
            select(func.min(FulfillLine.quantity), func.max(FulfillLine.quantity))
        ).one()
    assert ordered == sorted(values)
    assert (above, at) == (sum(v > pivot for v in values), values.count(pivot))
    assert total == sum(values)
    assert (smallest, largest) == (min(values), max(values))


@pytest.mark.parametrize(
    "value", ["0.00001", "100000000000000", "-100000000000000", "1.00000000000000000000000000001"]
)
def test_a_value_the_column_cannot_hold_is_never_rounded(store, value):
    engine, line_id = store
    with pytest.raises(sa.exc.StatementError) as exc, Session(engine) as s, s.begin():
        s.get_one(OrderLine, line_id).ordered_quantity = Decimal(value)
    assert isinstance(exc.value.orig, ValueError)
    with Session(engine) as s:
        assert s.get_one(OrderLine, line_id).ordered_quantity == Decimal(1)


# -- the migration ---------------------------------------------------------------------------

#: written by the old column type; what each reads back as once migrated, per database
OLD_ROWS = [
    # (stored, SQLite after the migration, PostgreSQL after the migration)
    ("3", "3", "3"),
    ("0.0001", "0.0001", "0.0001"),
    ("1.0001", "1.0001", "1.0001"),
    ("1234567890.1234", "1234567890.1234", "1234567890.1234"),
    ("99999999999.9999", "99999999999.9999", "99999999999.9999"),
    # 16 to 18 significant digits: the float the old type wrote had lost them already
    ("12345678901234.5678", "12345678901234.568", "12345678901234.5678"),
    ("99999999999999.9999", "100000000000000", "99999999999999.9999"),
]


def _seed_0006(conn: sa.Connection) -> None:
    """Rows written as omgw wrote them before the migration (through ``NUMERIC(18, 4)``)."""
    meta = sa.MetaData()
    systems, headers, lines, flines = (
        sa.Table(name, meta, autoload_with=conn)
        for name in ("source_systems", "order_headers", "order_lines", "fulfill_lines")
    )
    now = sa.func.current_timestamp()
    conn.execute(
        systems.insert().values(
            id=1,
            code="OLD",
            name="Old",
            system_type="SPOKE",
            order_capture=True,
            fulfillment=False,
            cross_reference=False,
            time_zone="UTC",
            collections_allowed=False,
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(
        headers.insert().values(
            id=1,
            order_number="1",
            source_system_id=1,
            source_order_id="S1",
            source_order_number="S1",
            revision="1",
            revision_seq=1,
            status="OPEN",
            created_at=now,
            updated_at=now,
        )
    )
    for n, (stored, _, _) in enumerate(OLD_ROWS, start=1):
        conn.execute(
            lines.insert().values(
                id=n,
                header_id=1,
                line_number=n,
                source_line_id=f"L{n}",
                source_line_number=str(n),
                product_number="P",
                ordered_quantity=Decimal(stored),
                uom_code="Ea",
                status="AWAIT_SHIPPING",
            )
        )
        conn.execute(
            flines.insert().values(
                id=n,
                header_id=1,
                order_line_id=n,
                fulfill_line_number=1,
                quantity=Decimal(stored),
                shipped_quantity=Decimal(stored) if n % 2 else None,
                status="AWAIT_SHIP",
                created_at=now,
                updated_at=now,
            )
        )


def _read_quantities(engine: sa.Engine) -> list[tuple[Decimal, Decimal, Decimal | None]]:
    with Session(engine) as s:
        rows = s.execute(
            select(OrderLine.ordered_quantity, FulfillLine.quantity, FulfillLine.shipped_quantity)
            .join(FulfillLine, FulfillLine.order_line_id == OrderLine.id)
            .order_by(OrderLine.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _downgrade(engine: sa.Engine, revision: str) -> None:
    """As ``migrate`` runs upgrades: SQLite's foreign keys off while tables are rebuilt."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, revision)
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def test_the_migration_keeps_quantities_written_by_the_old_type(empty_database_url):
    sqlite = empty_database_url.startswith("sqlite")
    engine = create_engine_for(empty_database_url)
    cfg = alembic_config(empty_database_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        _seed_0006(conn)

    migrate(engine)

    expected = [Decimal(on_sqlite if sqlite else on_pg) for _, on_sqlite, on_pg in OLD_ROWS]
    assert _read_quantities(engine) == [
        (q, q, q if n % 2 else None) for n, q in enumerate(expected, start=1)
    ]
    if sqlite:  # stored as integers now, every one of them
        with engine.connect() as conn:
            kinds = conn.execute(
                text(
                    "SELECT typeof(ordered_quantity) FROM order_lines UNION "
                    "SELECT typeof(quantity) FROM fulfill_lines UNION "
                    "SELECT typeof(shipped_quantity) FROM fulfill_lines"
                )
            ).scalars()
            assert set(kinds) == {"integer", "null"}

    # down and up again: the values survive the round trip (what a float can hold)
    _downgrade(engine, "0006")
    migrate(engine)
    assert _read_quantities(engine) == [
        (q, q, q if n % 2 else None) for n, q in enumerate(expected, start=1)
    ]
    engine.dispose()


def test_the_columns_are_integers_on_sqlite_and_numeric_on_postgresql(empty_database_url):
    engine = create_engine_for(empty_database_url)
    migrate(engine)
    columns = {
        (table, c["name"]): c["type"]
        for table in ("order_lines", "fulfill_lines")
        for c in sa.inspect(engine).get_columns(table)
    }
    engine.dispose()
    kinds = {
        key: type(columns[key]).__name__
        for key in [
            ("order_lines", "ordered_quantity"),
            ("fulfill_lines", "quantity"),
            ("fulfill_lines", "shipped_quantity"),
        ]
    }
    want = "BIGINT" if empty_database_url.startswith("sqlite") else "NUMERIC"
    assert set(kinds.values()) == {want}, kinds
