"""Callers bound to their systems: a user imports for, reads and answers for only the
systems it is bound to. Any other call is refused with OMGW-AUTH_FORBIDDEN before it
changes anything; another system's order reads as one that does not exist.

A gateway of its own per database (real server on 127.0.0.1, zeep and raw HTTP), its
users added and bound with the real CLI and a setup file. Lines of orders from CAPB are
routed to WMSB, the others to WMSA.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from zeep.exceptions import Fault

from connectors.connector_specs import ConnectorSpec, SourceSystemSpec
from gateway.persistence.db import alembic_config, migrate
from gateway.persistence.models import FulfillLine
from gateway.registry.rule_store import RuleStore
from gateway.registry.store import Registry
from gateway.security.systems import SystemGrant, forbidden
from routing.rule_set import Rule
from tests.common.orders import fline_ids, order, response, shipped
from tests.common.soap import PASSWORD, client, zeep_fault_code
from tests.common.state import snapshot, unchanged
from tests.conftest import Admin, Gateway, make_settings, pg_database, serving

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

CAPTURE, WAREHOUSES = ("CAPA", "CAPB"), ("WMSA", "WMSB")

SETUP = """
[[user]]
name = "capa"
systems = ["CAPA"]

[[user]]
name = "wmsa"
systems = ["WMSA"]
"""


def _register(gw: Gateway) -> None:
    with gw.runtime.sessions() as s, s.begin():
        registry = Registry(s, actor="tests")
        for code in CAPTURE:
            registry.put_source_system(SourceSystemSpec(code, code, order_capture=True))
        for code in WAREHOUSES:
            registry.put_source_system(SourceSystemSpec(code, code, fulfillment=True))
            registry.put_connector(
                ConnectorSpec(f"{code}_Fulfillment", code, f"http://127.0.0.1:9/{code}")
            )
        rules = RuleStore(s, "tests")
        rules.put_rule(Rule("TO_B", 'SourceTransactionSystem = "CAPB"', "WMSB_Fulfillment", 5))
        rules.set_default("Shipment", "WMSA_Fulfillment")
        assert rules.publish() is not None


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def bound(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Gateway, Admin]]:
    home = tmp_path_factory.mktemp("bindings")
    urls = iter([f"sqlite:///{home / 'omgw.db'}"]) if request.param == "sqlite" else pg_database()
    for url in urls:
        settings = make_settings(home / "home", url)
        with serving(settings) as gw:
            _register(gw)
            env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
            env.update(
                OMGW_HOME=str(settings.home),
                OMGW_DATABASE_URL=url,
                OMGW_WALLET_KEY=settings.wallet_key_b64,
            )
            admin = Admin(env, settings.home)
            add = ("--password-stdin",)
            admin.ok("user", "add", "capa", "--role", "ORDER_IMPORT", "--role", "ORDER_INQUIRY",
                     *add, input=PASSWORD)  # fmt: skip
            admin.ok("user", "add", "wmsa", "--role", "FULFILLMENT_RESPONSE", *add, input=PASSWORD)
            admin.ok("user", "add", "root", "--role", "ORDER_IMPORT", "--role", "ORDER_INQUIRY",
                     "--role", "FULFILLMENT_RESPONSE", "--all-systems", *add, input=PASSWORD)  # fmt: skip
            admin.ok("user", "add", "loose", "--role", "ORDER_IMPORT", "--role", "ORDER_INQUIRY",
                     "--role", "FULFILLMENT_RESPONSE", *add, input=PASSWORD)  # fmt: skip
            setup = home / "users.toml"
            setup.write_text(SETUP)
            admin.ok("apply", "-f", str(setup))
            yield gw, admin


def as_user(gw: Gateway, service: str, user: str) -> Any:
    return client(gw.base, service, user=user)


def create(gw: Gateway, key: str, system: str, user: str = "root") -> tuple[str, list[int]]:
    result = as_user(gw, "OrderImportService", user).service.createOrders(
        request={"Order": [order(key, [("AS54888", 10)], system=system)]}
    )
    return str(result[0].OrderNumber), fline_ids(result[0])


def refusal(call: Any, **kwargs: Any) -> Fault:
    with pytest.raises(Fault) as exc:
        call(**kwargs)
    return exc.value


def request_of(gw: Gateway, fline_id: int) -> tuple[int, str | None]:
    with gw.runtime.sessions() as s:
        fline = s.get_one(FulfillLine, fline_id)
        assert fline.request is not None
        return fline.request.id, fline.request.fulfillment_system


def test_a_warehouse_cannot_answer_for_another(bound, unique):
    gw, _admin = bound
    _number, (theirs,) = create(gw, f"B{unique}", "CAPB")
    request_id, system = request_of(gw, theirs)
    assert system == "WMSB"
    ofrs = as_user(gw, "OrderFulfillmentResponseService", "wmsa")
    before = snapshot(gw.runtime)

    # shipping 3 of WMSB's line in WMSB's name: refused whole
    fault = refusal(
        ofrs.service.processFulfillmentResponse,
        **response(f"R-{unique}", [shipped(theirs, 3)], system="WMSB"),
    )
    assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"
    assert "'wmsa'" in fault.message and "WMSB" in fault.message and "WMSA" in fault.message
    for call in (ofrs.service.stageFulfillmentResponse,):
        fault = refusal(call, **response(f"S-{unique}", [shipped(theirs, 3)], system="WMSB"))
        assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"
    ack = {
        "FulfillmentSystem": "WMSB",
        "FulfillmentRequestIdentifier": request_id,
        "RequestStatusCode": "SUCCESS",
    }
    fault = refusal(ofrs.service.processAcknowledgement, fulfillmentRequestAcknowledgement=ack)
    assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"

    # in its own name, it still cannot touch a line or request that went to WMSB
    fault = refusal(
        ofrs.service.processFulfillmentResponse,
        **response(f"A-{unique}", [shipped(theirs, 3)], system="WMSA"),
    )
    assert zeep_fault_code(fault) == "OMGW-LINE_NOT_ASSIGNED"
    fault = refusal(
        ofrs.service.processAcknowledgement,
        fulfillmentRequestAcknowledgement={**ack, "FulfillmentSystem": "WMSA"},
    )
    assert zeep_fault_code(fault) == "OMGW-LINE_NOT_ASSIGNED"
    unchanged(gw.runtime, before)

    # its own line it answers
    _number, (mine,) = create(gw, f"A{unique}", "CAPA")
    assert request_of(gw, mine)[1] == "WMSA"
    result = ofrs.service.processFulfillmentResponse(
        **response(f"OK-{unique}", [shipped(mine, 3)], system="WMSA")
    )
    assert result.OverallStatusCode == "SUCCESS"


def test_import_for_an_unbound_source_system_changes_nothing(bound, unique):
    gw, _admin = bound
    imports = as_user(gw, "OrderImportService", "capa")
    batch = {"Order": [order(f"OK{unique}", system="CAPA"), order(f"NO{unique}", system="CAPB")]}
    before = snapshot(gw.runtime)
    for call in (imports.service.createOrders, imports.service.stageOrders):
        fault = refusal(call, request=batch)
        assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"
        assert "'capa'" in fault.message and "CAPB" in fault.message
    unchanged(gw.runtime, before)  # the CAPA order was not imported either

    created = imports.service.createOrders(request={"Order": [batch["Order"][0]]})
    assert created[0].SourceTransactionSystem == "CAPA"
    staged = imports.service.stageOrders(request={"Order": [order(f"ST{unique}", system="CAPA")]})
    assert staged.NumberOfOrdersStaged == 1


def test_another_systems_order_reads_as_one_that_does_not_exist(bound, unique):
    gw, _admin = bound
    number, _ = create(gw, f"R{unique}", "CAPB")
    info = as_user(gw, "OrderInformationService", "capa")

    foreign = refusal(info.service.GetOrderDetails, Order=[{"OrderNumber": number}])
    missing = refusal(info.service.GetOrderDetails, Order=[{"OrderNumber": f"X{unique}"}])
    assert zeep_fault_code(foreign) == zeep_fault_code(missing) == "OMGW-ORDER_NOT_FOUND"
    assert foreign.message.replace(number, "N") == missing.message.replace(f"X{unique}", "N")
    by_number = refusal(
        info.service.GetOrderDetails, Order=[{"SourceTransactionNumber": f"SO-R{unique}"}]
    )
    assert zeep_fault_code(by_number) == "OMGW-ORDER_NOT_FOUND"

    # naming the system is refused whether or not the order exists
    for key in (f"R{unique}", f"NONE{unique}"):
        named = {"SourceTransactionSystem": "CAPB", "SourceTransactionIdentifier": key}
        fault = refusal(info.service.GetOrderDetails, Order=[named])
        assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"

    mine, _ = create(gw, f"M{unique}", "CAPA", user="capa")
    got = info.service.GetOrderDetails(Order=[{"OrderNumber": mine}])
    assert [o.OrderNumber for o in got] == [mine]
    # the user bound to every system reads both
    root = as_user(gw, "OrderInformationService", "root")
    assert [o.OrderNumber for o in root.service.GetOrderDetails(Order=[{"OrderNumber": number}])]


def test_a_user_bound_to_nothing_is_told_how_to_bind_it(bound, unique):
    gw, _admin = bound
    before = snapshot(gw.runtime)
    calls = (
        (as_user(gw, "OrderImportService", "loose").service.createOrders,
         {"request": {"Order": [order(f"L{unique}", system="CAPA")]}}),
        (as_user(gw, "OrderInformationService", "loose").service.GetOrderDetails,
         {"Order": [{"OrderNumber": "1"}]}),
        (as_user(gw, "OrderFulfillmentResponseService", "loose").service.processFulfillmentResponse,
         response(f"L-{unique}", [shipped(1, 1)], system="WMSA")),
    )  # fmt: skip
    for call, kwargs in calls:
        fault = refusal(call, **kwargs)
        assert zeep_fault_code(fault) == "OMGW-AUTH_FORBIDDEN"
        assert "bound to no system" in fault.message
        assert "omgw user bind loose --system" in fault.message
    unchanged(gw.runtime, before)


def test_a_request_sent_to_no_system_is_answered_only_by_an_all_systems_user(gateway, unique):
    """The shared gateway has no routing and no default system: its requests go nowhere."""
    imports = client(gateway.base, "OrderImportService")
    (fline,) = fline_ids(imports.service.createOrders(request={"Order": [order(f"U{unique}")]})[0])
    warehouse = client(gateway.base, "OrderFulfillmentResponseService", user="warehouse")
    before = snapshot(gateway.runtime)
    fault = refusal(
        warehouse.service.processFulfillmentResponse,
        **response(f"U-{unique}", [shipped(fline, 2)], system="WMS01"),
    )
    assert zeep_fault_code(fault) == "OMGW-LINE_NOT_ASSIGNED"
    assert "sent to no fulfillment system" in fault.message
    unchanged(gateway.runtime, before)
    ofrs = client(gateway.base, "OrderFulfillmentResponseService")  # "all": every system
    done = ofrs.service.processFulfillmentResponse(
        **response(f"U-{unique}", [shipped(fline, 2)], system="WMS01")
    )
    assert done.OverallStatusCode == "SUCCESS"


# -- the CLI and setup files ------------------------------------------------------------------


def test_user_bindings_through_the_cli(admin, tmp_path):
    admin.ok("source-system", "add", "WMS01", "--fulfillment")
    admin.ok("source-system", "add", "LEGACY", "--order-capture")
    add = ("user", "add", "u", "--role", "FULFILLMENT_RESPONSE", "--password-stdin")

    unknown = admin(*add, "--system", "NOPE", input=PASSWORD)
    assert unknown.exit_code != 0 and "NOPE" in unknown.output
    assert admin.json("user", "list") == []  # nothing half-applied
    both = admin(*add, "--system", "WMS01", "--all-systems", input=PASSWORD)
    assert both.exit_code != 0 and "not both" in both.output

    admin.ok(*add, "--system", "WMS01", input=PASSWORD)
    assert _binding(admin, "u") == (["WMS01"], False)
    admin.ok("user", "bind", "u", "--system", "LEGACY")
    assert _binding(admin, "u") == (["LEGACY", "WMS01"], False)
    assert "LEGACY WMS01" in admin.ok("user", "list")
    admin.ok("user", "unbind", "u", "--system", "WMS01")
    assert _binding(admin, "u") == (["LEGACY"], False)
    admin.ok("user", "bind", "u", "--all-systems")
    assert _binding(admin, "u") == (["LEGACY"], True)
    assert "(all)" in admin.ok("user", "list")
    admin.ok("user", "unbind", "u", "--all-systems", "--system", "LEGACY")
    assert _binding(admin, "u") == ([], False)
    assert "(none)" in admin.ok("user", "list")
    # a new password and roles keep the binding unless --system is given
    admin.ok("user", "bind", "u", "--system", "WMS01")
    admin.ok(*add, "--replace", input=PASSWORD)
    assert _binding(admin, "u") == (["WMS01"], False)
    missing = admin("user", "bind", "ghost", "--system", "WMS01")
    assert missing.exit_code != 0 and "ghost" in missing.output
    audit = admin.json("audit", "list", "--entity", "user")
    assert any(e["after"] == {"systems": ["LEGACY", "WMS01"], "all_systems": False}
               for e in audit)  # fmt: skip


def _binding(admin: Admin, name: str) -> tuple[list[str], bool]:
    rows = admin.json("user", "list")
    assert isinstance(rows, list)
    (row,) = [r for r in rows if r["username"] == name]
    return row["systems"], row["all_systems"]


def test_user_bindings_in_a_setup_file(admin, tmp_path):
    admin.ok("user", "add", "wh", "--role", "FULFILLMENT_RESPONSE", "--password-stdin",
             input=PASSWORD)  # fmt: skip
    admin.ok("user", "add", "boss", "--role", "ORDER_INQUIRY", "--password-stdin", input=PASSWORD)
    path = tmp_path / "setup.toml"
    path.write_text(
        '[[source_system]]\ncode = "WMS01"\nfulfillment = true\n\n'
        '[[user]]\nname = "wh"\nsystems = ["WMS01"]\n\n'
        '[[user]]\nname = "boss"\nall_systems = true\n'
    )
    admin.ok("apply", "-f", str(path))
    assert _binding(admin, "wh") == (["WMS01"], False)
    assert _binding(admin, "boss") == ([], True)
    assert "no changes" in admin.ok("apply", "-f", str(path))  # idempotent

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[user]]\nname = "wh"\nsystems = ["WMS99"]\n\n[[user]]\nname = "boss"\npassword = "x"\n'
    )
    out = admin("apply", "-f", str(bad))
    assert out.exit_code != 0
    assert "line 3: systems: source system 'WMS99' does not exist" in out.output
    assert "line 7: password: passwords never go in a setup file" in out.output
    ghost = tmp_path / "ghost.toml"
    ghost.write_text('[[user]]\nname = "ghost"\nsystems = ["WMS01"]\n')
    out = admin("apply", "-f", str(ghost))
    assert out.exit_code != 0 and "line 1" in out.output and "omgw user add ghost" in out.output
    assert _binding(admin, "wh") == (["WMS01"], False)  # refused files changed nothing


def test_the_sample_binds_its_user(admin):
    admin.ok("init", "--sample")
    sample = Path(__file__).resolve().parents[2] / "gateway" / "setup" / "sample.toml"
    admin.ok("apply", "-f", str(sample))
    assert _binding(admin, "omgw-demo") == (["CSS01", "LEGACY", "WMS01"], False)


def test_users_from_before_bindings_are_bound_to_nothing(empty_database_url):
    """Upgrading keeps every user and binds none: an admin binds them (fail closed)."""
    command.upgrade(alembic_config(empty_database_url), "0006")
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, password_hash, roles, created_at) "
                    "VALUES ('old', 'x', 'ORDER_IMPORT', CURRENT_TIMESTAMP)"
                )
            )
        migrate(engine)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT systems, all_systems FROM users")).one()
    finally:
        engine.dispose()
    grant = SystemGrant.stored(row.systems, row.all_systems)
    assert grant.empty
    refusal = forbidden(grant, "old", ["LEGACY"], "import orders for", "source system")
    assert refusal is not None and refusal.code == "AUTH_FORBIDDEN"
    assert "omgw user bind old --system CODE" in refusal.message
