"""The registry and wallet on a real database (SQLite and PostgreSQL): references are
checked, removals that would orphan something are refused, every change is audited,
and no secret reaches a row in clear text."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from connectors.connector_errors import WalletError
from connectors.connector_specs import ConnectorSpec, SourceSystemSpec, TlsSettings
from connectors.secret_box import Credential, KeyFile, Keyring, MasterKey, SecretBox
from gateway.errors import ConflictError, GatewayError, NotFoundError
from gateway.orchestration_model import ProcessSpec, StepSpec, TaskSpec, TaskTypeSpec
from gateway.persistence.db import make_session_factory
from gateway.persistence.models import AuditEntry, User, WalletEntry
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet
from gateway.runtime import Runtime
from gateway.startup import prepare
from tests.common.pki import authority
from tests.conftest import make_settings

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

SECRET = "Wallet-Pa55-9f3e"
MAP = "oracle.wsm.security"


@pytest.fixture
def runtime(fresh_database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = make_settings(tmp_path / "home", fresh_database_url)
    prepare(settings)
    rt = Runtime(settings)
    yield rt
    rt.close()


def change(rt: Runtime, work, actor: str = "alice"):
    with rt.sessions() as s, s.begin():
        return work(Registry(s, actor), Wallet(s, rt.secret_box, actor))


def code_of(call) -> str:
    with pytest.raises(GatewayError) as exc:
        call()
    return exc.value.code


def base_setup(rt: Runtime) -> None:
    def work(reg: Registry, wallet: Wallet) -> None:
        reg.put_source_system(SourceSystemSpec("WMS01", "Warehouse", fulfillment=True))
        wallet.set(MAP, "WMS01_KEY", Credential("svc", SECRET))
        reg.put_connector(
            ConnectorSpec(
                "WMS01_Ship", "WMS01", "https://wms.example/ship", credential_key="WMS01_KEY"
            )
        )

    change(rt, work)


def test_builtins_are_there_once(runtime):
    prepare(runtime.settings)  # preparing again adds nothing
    with runtime.sessions() as s:
        reg = Registry(s)
        builtin = [t.code for t in reg.task_types() if t.system]
        assert builtin == ["Activity", "Invoice", "Reservation", "Return", "Schedule", "Shipment"]
        version, process = reg.process("DOO_OrderFulfillmentGenericProcess")
        assert version == 1 and reg.process_versions(process.name) == [1]
        assert code_of(lambda: reg.remove_task_type("Shipment")) == "BUILT_IN"
        assert code_of(lambda: reg.remove_process(process.name)) == "BUILT_IN"


def test_references_are_checked(runtime):
    base_setup(runtime)
    missing_target = ConnectorSpec("C2", "NOPE", "http://x/y")
    assert code_of(lambda: change(runtime, lambda r, w: r.put_connector(missing_target))) == (
        "SOURCE_SYSTEM_UNKNOWN"
    )
    missing_key = ConnectorSpec("C2", "WMS01", "http://x/y", credential_key="NOPE_KEY")
    assert code_of(lambda: change(runtime, lambda r, w: r.put_connector(missing_key))) == (
        "WALLET_ENTRY_UNKNOWN"
    )
    no_cert = ConnectorSpec(
        "C2", "WMS01", "https://x/y", tls=TlsSettings(client_certificate="WMS01_KEY")
    )
    assert (
        code_of(lambda: change(runtime, lambda r, w: r.put_connector(no_cert))) == "INVALID_VALUE"
    )
    twice = ConnectorSpec("WMS01_Ship", "WMS01", "http://other/")
    assert (
        code_of(lambda: change(runtime, lambda r, w: r.put_connector(twice, mode="create")))
        == "ALREADY_EXISTS"
    )
    bad_step = ProcessSpec("P", "", (StepSpec("s", "Nope", "t", "x"),))
    assert code_of(lambda: change(runtime, lambda r, w: r.put_process(bad_step))) == (
        "TASK_TYPE_UNKNOWN"
    )
    with runtime.sessions() as s:
        assert [c.name for c in Registry(s).connectors()] == ["WMS01_Ship"]  # nothing half-made


def test_removals_that_would_orphan_are_refused_naming_the_referrers(runtime):
    base_setup(runtime)
    with pytest.raises(ConflictError, match="connector WMS01_Ship") as exc:
        change(runtime, lambda r, w: r.remove_source_system("WMS01"))
    assert exc.value.code == "IN_USE"
    with pytest.raises(ConflictError, match="connector WMS01_Ship"):
        change(runtime, lambda r, w: w.remove(MAP, "WMS01_KEY"))

    pick = TaskTypeSpec(
        "Pick_From_Ravi", "Pick", "", (TaskSpec("Pick Carton", ("Pick_From_Ravi_Create",)),)
    )
    flow = ProcessSpec(
        "Ravi", "", (StepSpec("Pick", "Pick_From_Ravi", "Pick Carton", "Pick_From_Ravi_Create"),)
    )
    change(runtime, lambda r, w: (r.put_task_type(pick), r.put_process(flow)))
    with pytest.raises(ConflictError, match="process Ravi v1"):
        change(runtime, lambda r, w: r.remove_task_type("Pick_From_Ravi"))
    renamed = replace(pick, tasks=(TaskSpec("Pick Carton", ("Pick_From_Ravi_Other",)),))
    with pytest.raises(ConflictError, match="process Ravi v1"):
        change(runtime, lambda r, w: r.put_task_type(renamed))

    # Once nothing refers to them, they go.
    change(runtime, lambda r, w: (r.remove_connector("WMS01_Ship"), w.remove(MAP, "WMS01_KEY")))
    change(runtime, lambda r, w: (r.remove_process("Ravi"), r.remove_task_type("Pick_From_Ravi")))
    change(runtime, lambda r, w: r.remove_source_system("WMS01"))
    with runtime.sessions() as s:
        assert Registry(s).connectors() == []


def test_processes_are_versioned_and_a_same_spec_changes_nothing(runtime):
    flow = ProcessSpec(
        "Flow", "v1", (StepSpec("Ship", "Shipment", "Ship", "Create Shipment Request"),)
    )
    first = change(runtime, lambda r, w: r.put_process(flow))
    assert first.action == "create" and first.after["version"] == 1
    assert change(runtime, lambda r, w: r.put_process(flow)) is None
    longer = replace(
        flow, steps=(*flow.steps, StepSpec("Bill", "Invoice", "Invoice", "Create Billing Line"))
    )
    second = change(runtime, lambda r, w: r.put_process(longer))
    assert second.action == "update" and second.after["version"] == 2
    with runtime.sessions() as s:
        reg = Registry(s)
        assert reg.process("Flow") == (2, longer)
        assert reg.process("Flow", 1) == (1, flow)  # the old version stays readable
        assert code_of(lambda: reg.process("Flow", 7)) == "PROCESS_UNKNOWN"


def test_every_change_is_audited_without_secrets(runtime):
    base_setup(runtime)
    spec = ConnectorSpec(
        "WMS01_Ship", "WMS01", "https://wms.example/v2", credential_key="WMS01_KEY"
    )
    change(runtime, lambda r, w: r.put_connector(spec), actor="bob")
    change(
        runtime,
        lambda r, w: w.set(MAP, "WMS01_KEY", Credential("svc", SECRET + "-new")),
        actor="bob",
    )
    with runtime.sessions() as s:
        query = select(AuditEntry).where(AuditEntry.actor != "omgw")  # not the built-ins
        rows = list(s.scalars(query.order_by(AuditEntry.id)))
    assert [(r.actor, r.action, r.entity, r.entity_key) for r in rows] == [
        ("alice", "create", "source_system", "WMS01"),
        ("alice", "create", "wallet", f"{MAP}/WMS01_KEY"),
        ("alice", "create", "connector", "WMS01_Ship"),
        ("bob", "update", "connector", "WMS01_Ship"),
        ("bob", "update", "wallet", f"{MAP}/WMS01_KEY"),
    ]
    url_change = rows[3]
    assert json.loads(url_change.before_json)["url"] == "https://wms.example/ship"
    assert json.loads(url_change.after_json)["url"] == "https://wms.example/v2"
    for row in rows:
        assert SECRET not in (row.before_json or "") + (row.after_json or "")
        assert "svc" not in (row.before_json or "") + (row.after_json or "")  # nor the username


def test_wallet_rows_hold_no_clear_text_and_detect_swaps_and_edits(runtime):
    change(
        runtime,
        lambda r, w: (
            w.set(MAP, "A_KEY", Credential("user-a", SECRET)),
            w.set(MAP, "B_KEY", Credential("user-b", "Other-Pa55-1")),
        ),
    )
    with runtime.sessions() as s, s.begin():
        rows = {r.key: r for r in s.scalars(select(WalletEntry))}
        for row in rows.values():
            assert SECRET.encode() not in row.sealed and b"user-" not in row.sealed
        # An attacker with database access swaps the two ciphertexts.
        rows["A_KEY"].sealed, rows["B_KEY"].sealed = rows["B_KEY"].sealed, rows["A_KEY"].sealed
    with runtime.sessions() as s:
        wallet = Wallet(s, runtime.secret_box)
        with pytest.raises(WalletError, match=r"\(oracle.wsm.security, A_KEY\).*altered"):
            wallet.credential(MAP, "A_KEY")
        assert [(name, problem is not None) for name, problem in wallet.verify()] == [
            (f"{MAP}/A_KEY", True),
            (f"{MAP}/B_KEY", True),
        ]
    # Editing the recorded key version breaks the associated data too.
    change(runtime, lambda r, w: w.set(MAP, "A_KEY", Credential("user-a", SECRET)))
    with runtime.sessions() as s, s.begin():
        s.execute(update(WalletEntry).where(WalletEntry.key == "A_KEY").values(key_version=9))
    with runtime.sessions() as s, pytest.raises(WalletError):
        Wallet(s, runtime.secret_box).credential(MAP, "A_KEY")


def test_the_wrong_master_key_is_a_clear_error(runtime):
    change(runtime, lambda r, w: w.set(MAP, "A_KEY", Credential("u", SECRET)))
    with runtime.sessions() as s:
        wallet = Wallet(s, SecretBox(MasterKey.generate()))
        with pytest.raises(WalletError, match="wrong wallet key"):
            wallet.credential(MAP, "A_KEY")
        assert code_of(lambda: wallet.credential(MAP, "NOPE")) == "WALLET_ENTRY_UNKNOWN"


def test_setting_the_same_credential_again_changes_nothing(runtime):
    assert change(runtime, lambda r, w: w.set(MAP, "K", Credential("u", SECRET))).action == "create"
    assert change(runtime, lambda r, w: w.set(MAP, "K", Credential("u", SECRET))) is None
    assert (
        change(runtime, lambda r, w: w.set(MAP, "K", Credential("u2", SECRET))).action == "update"
    )


def test_rotation_reseals_everything_and_survives_an_interruption(runtime, tmp_path):
    key_file = KeyFile(tmp_path / "wallet.key")
    old = MasterKey.generate()
    key_file.create(old)
    box = SecretBox(old)
    with runtime.sessions() as s, s.begin():
        wallet = Wallet(s, box)
        wallet.set(MAP, "A_KEY", Credential("a", SECRET))
        wallet.set(MAP, "B_KEY", Credential("b", SECRET + "b"))
        s.add(
            User(
                username="u1",
                password_hash="x",
                digest_secret=box.seal(b"digest-pw", "user:u1"),
                roles="",
            )
        )

    new = key_file.begin_rotation()
    # First attempt dies half-way: the transaction rolls back, nothing is lost.
    with pytest.raises(RuntimeError), runtime.sessions() as s, s.begin():
        Wallet(s, SecretBox(key_file.load())).rotate(new)
        raise RuntimeError("killed")
    with runtime.sessions() as s:
        assert Wallet(s, SecretBox(key_file.load())).credential(MAP, "A_KEY").password == SECRET
    # The rerun completes; the DB committed but the key file was not yet swapped: still fine.
    with runtime.sessions() as s, s.begin():
        assert Wallet(s, SecretBox(key_file.load())).rotate(new) == 3
    with runtime.sessions() as s:
        assert (
            Wallet(s, SecretBox(key_file.load())).credential(MAP, "B_KEY").password == SECRET + "b"
        )
    key_file.finish_rotation(new)
    ring = key_file.load()
    assert ring.versions == [2]
    with runtime.sessions() as s:
        wallet = Wallet(s, SecretBox(ring))
        assert {i.key_version for i in wallet.entries()} == {2}
        assert wallet.credential(MAP, "A_KEY") == Credential("a", SECRET)
        user = s.scalar(select(User).where(User.username == "u1"))
        assert SecretBox(ring).open(user.digest_secret, "user:u1") == b"digest-pw"
        with pytest.raises(WalletError):
            Wallet(s, SecretBox(old)).credential(MAP, "A_KEY")  # the old key no longer opens it
        # Rotating again with nothing left to do re-seals nothing.
    with runtime.sessions() as s, s.begin():
        assert Wallet(s, SecretBox(Keyring(new))).rotate(new) == 0


def test_secrets_are_not_in_the_database_in_clear_text(runtime):
    base_setup(runtime)
    with runtime.sessions() as s:
        for table in ("wallet_entries", "connectors", "audit_log", "source_systems"):
            dump = repr(s.execute(text(f"SELECT * FROM {table}")).all())
            assert SECRET not in dump, table


def test_an_unknown_source_system_is_a_clear_not_found(runtime):
    with runtime.sessions() as s, pytest.raises(NotFoundError, match="no source system 'X'"):
        Registry(s).source_system("X")


def test_upgrading_a_0001_database_with_orders_keeps_everything(empty_database_url):
    from alembic import command

    from gateway.persistence.db import alembic_config, create_engine_for, migrate

    engine = create_engine_for(empty_database_url)
    cfg = alembic_config(empty_database_url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    statements = [
        "INSERT INTO source_systems (id, code, name, system_type, order_capture, fulfillment,"
        " response_processing_option, created_at) VALUES"
        " (1, 'OLD1', 'Old', 'SPOKE', true, false, 'REJECT_ALL_ON_FIRST_ERROR', CURRENT_TIMESTAMP),"
        " (2, 'WMSX', 'Wms', 'SPOKE', false, true, 'REJECT_ERROR_GROUPS', CURRENT_TIMESTAMP)",
        "INSERT INTO order_headers (id, order_number, source_system_id, source_order_id,"
        " source_order_number, revision, revision_seq, status, created_at, updated_at)"
        " VALUES (7, '100007', 1, 'S1', 'SO-1', '1', 1, 'OPEN', CURRENT_TIMESTAMP,"
        " CURRENT_TIMESTAMP)",
        "INSERT INTO order_lines (id, header_id, line_number, source_line_id,"
        " source_line_number, product_number, ordered_quantity, uom_code, status)"
        " VALUES (8, 7, 1, 'L1', '1', 'AS54888', 2, 'Ea', 'AWAIT_SHIPPING')",
        "INSERT INTO fulfillment_requests (id, header_id, task_type, fulfillment_system,"
        " status, created_at) VALUES (9, 7, 'Shipment', 'WMSX', 'SENT', CURRENT_TIMESTAMP)",
        "INSERT INTO fulfill_lines (id, header_id, order_line_id, fulfill_line_number,"
        " quantity, status, task_type, request_id, created_at, updated_at) VALUES"
        " (10, 7, 8, 1, 2, 'AWAIT_SHIP', 'Shipment', 9, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    ]
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    migrate(engine)  # rebuilds fulfillment_requests while fulfill_lines point at it
    settings_free = make_session_factory(engine)
    with settings_free() as s:
        systems = s.execute(
            text("SELECT code, time_zone, cross_reference FROM source_systems ORDER BY code")
        ).all()
        assert [tuple(r) for r in systems] == [("OLD1", "UTC", False), ("WMSX", "UTC", False)]
        assert s.execute(text("SELECT request_id FROM fulfill_lines")).scalar() == 9
        migrated = Registry(s).connectors_for("WMSX")
        assert [(c.name, c.response_processing, c.enabled) for c in migrated] == [
            ("WMSX_MIGRATED", "REJECT_ERROR_GROUPS", False)
        ]
        assert Registry(s).connectors_for("OLD1") == []  # the default needs no placeholder
        if empty_database_url.startswith("sqlite"):
            assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1  # on again after
    engine.dispose()


def test_the_migrations_build_the_schema_the_models_declare(empty_database_url):
    """Migrated to head, the database holds every table, column, type, index and key the
    models declare, by the same names: what autogenerate would write is nothing."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gateway.persistence.db import create_engine_for, migrate
    from gateway.persistence.models import Base

    engine = create_engine_for(empty_database_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_a_running_process_picks_up_a_rotated_key_file(fresh_database_url, tmp_path):
    settings = make_settings(tmp_path / "home", fresh_database_url, wallet_key_b64=None)
    prepare(settings)
    key_file = KeyFile(settings.key_file)
    key_file.create(MasterKey.generate())
    server = Runtime(settings)  # a long-running process, its key loaded once
    admin = Runtime(settings)
    try:
        with server.sessions() as s, s.begin():
            Wallet(s, server.secret_box).set(MAP, "K", Credential("u", SECRET))
        new = key_file.begin_rotation()
        with admin.sessions() as s, s.begin():
            Wallet(s, SecretBox(key_file.load())).rotate(new)
        key_file.finish_rotation(new)
        with server.sessions() as s:
            assert Wallet(s, server.secret_box).credential(MAP, "K").password == SECRET
            assert server.secret_box.version == 2
    finally:
        server.close()
        admin.close()


def test_a_connector_ca_bundle_must_exist(runtime, tmp_path):
    base_setup(runtime)
    spec = ConnectorSpec(
        "C3", "WMS01", "https://x/y", tls=TlsSettings(ca_bundle=str(tmp_path / "none.pem"))
    )
    with pytest.raises(GatewayError, match=r"none\.pem is not a file"):
        change(runtime, lambda r, w: r.put_connector(spec))
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    ok = replace(spec, tls=TlsSettings(ca_bundle=str(tmp_path / "ca.pem")))
    assert change(runtime, lambda r, w: r.put_connector(ok)).action == "create"


def _client_certificate() -> tuple[str, str]:
    """A client certificate and its key, PEM (issued by a CA of its own)."""
    issued = authority("omgw test CA").issue("omgw-client")
    return issued.certificate, issued.key


def test_client_certificates_are_checked_and_stored_sealed(runtime):
    """What the wallet accepts as a client certificate, and that it is sealed; that the
    certificate is presented in real handshakes is test_outbound_tls's part."""
    cert, key = _client_certificate()
    _other_cert, other_key = _client_certificate()
    base_setup(runtime)
    for bad_cert, bad_key, why in (
        ("junk", key, "not a PEM X.509 certificate"),
        (cert, "junk", "not a PEM private key"),
        (cert, other_key, "does not belong"),
        (cert, None, "not a PEM private key"),
    ):
        with pytest.raises(WalletError, match=why):
            change(
                runtime,
                lambda r, w, c=bad_cert, k=bad_key: w.set(
                    MAP, "TLS", Credential("u", SECRET, c, k)
                ),
            )
    change(runtime, lambda r, w: w.set(MAP, "TLS", Credential("u", SECRET, cert, key)))
    with runtime.sessions() as s:
        sealed = s.scalar(select(WalletEntry.sealed).where(WalletEntry.key == "TLS"))
        assert b"PRIVATE KEY" not in sealed
        assert Wallet(s, runtime.secret_box).credential(MAP, "TLS").client_key == key
    spec = ConnectorSpec("C4", "WMS01", "https://x/y", tls=TlsSettings(client_certificate="TLS"))
    assert change(runtime, lambda r, w: r.put_connector(spec)).action == "create"


def test_a_secret_written_during_a_rotation_is_not_left_under_the_old_key(runtime, tmp_path):
    """A writer holding its transaction open while a rotation starts: the rotation waits
    for it, then re-seals what it wrote; nothing stays under the retired key."""
    import threading

    key_file = KeyFile(tmp_path / "wallet.key")
    key_file.create(MasterKey.generate())
    writer = runtime.sessions()
    writer.begin()
    Wallet(writer, lambda: SecretBox(key_file.load())).set(MAP, "LATE", Credential("u", SECRET))
    new = key_file.begin_rotation()
    done: list[int] = []
    rotation = threading.Thread(
        target=lambda: done.append(_rotate(runtime, key_file, new)), daemon=True
    )
    rotation.start()
    rotation.join(timeout=1.0)
    assert rotation.is_alive()  # it waits for the writer's lock
    writer.commit()
    writer.close()
    rotation.join(timeout=30)
    assert done == [1]
    key_file.finish_rotation(new)
    with runtime.sessions() as s:
        wallet = Wallet(s, SecretBox(key_file.load()))
        assert wallet.credential(MAP, "LATE").password == SECRET
        assert {i.key_version for i in wallet.entries()} == {2}


def _rotate(runtime: Runtime, key_file: KeyFile, new: MasterKey) -> int:
    with runtime.sessions() as s, s.begin():
        return Wallet(s, SecretBox(key_file.load())).rotate(new)


def test_a_key_file_write_never_leaves_a_partial_file(tmp_path):
    key_file = KeyFile(tmp_path / "wallet.key")
    key_file.create(MasterKey.generate())
    (tmp_path / "wallet.key.next.tmp").write_text("")  # a crash mid-write left this
    new = key_file.begin_rotation()
    assert key_file.load().current == new
    assert not (tmp_path / "wallet.key.next.tmp").exists()


def test_a_system_with_open_requests_cannot_be_removed(runtime):
    from gateway.orders.intake import OrderIntake
    from gateway.orders.message_values import LineInput, OrderInput

    def work(reg: Registry, _w: Wallet) -> None:
        reg.put_source_system(SourceSystemSpec("CAP1", order_capture=True))
        reg.put_source_system(SourceSystemSpec("WMS01", fulfillment=True))

    change(runtime, work)
    with runtime.sessions() as s, s.begin():
        line = LineInput("L1", "1", "AS54888", Decimal(2), "Ea")
        OrderIntake(s, "WMS01").create(OrderInput("CAP1", "S1", "SO-1", "1", (line,)))
    with pytest.raises(ConflictError, match="1 open fulfillment request"):
        change(runtime, lambda r, w: r.remove_source_system("WMS01"))
    with pytest.raises(ConflictError, match="1 order"):
        change(runtime, lambda r, w: r.remove_source_system("CAP1"))


def test_a_certificate_a_connector_uses_is_never_dropped(runtime):
    cert, key = _client_certificate()
    base_setup(runtime)
    change(runtime, lambda r, w: w.set(MAP, "TLS", Credential("u", SECRET, cert, key)))
    spec = ConnectorSpec("C5", "WMS01", "https://x/y", tls=TlsSettings(client_certificate="TLS"))
    change(runtime, lambda r, w: r.put_connector(spec))
    with pytest.raises(ConflictError, match="client certificate of connector C5"):
        change(runtime, lambda r, w: w.set(MAP, "TLS", Credential("u", SECRET + "2")))


def test_listings_and_the_option_fallback_sort_bytewise_on_every_database(runtime):
    def work(reg: Registry, _w: Wallet) -> None:
        reg.put_source_system(SourceSystemSpec("W9", fulfillment=True))
        reg.put_connector(
            ConnectorSpec("a_w9", "W9", "http://x/", response_processing="REJECT_ALL_ON_ANY_ERROR")
        )
        reg.put_connector(
            ConnectorSpec("B_w9", "W9", "http://x/", response_processing="REJECT_ERROR_GROUPS")
        )

    change(runtime, work)
    from gateway.orders.responses import ResponseProcessor
    from gateway.persistence.models import SourceSystem

    with runtime.sessions() as s:
        assert [c.name for c in Registry(s).connectors_for("W9")] == ["B_w9", "a_w9"]
        ss = s.scalar(select(SourceSystem).where(SourceSystem.code == "W9"))
        option = ResponseProcessor(s)._processing_option(ss, [])
        assert option == "REJECT_ERROR_GROUPS"


def test_a_reloaded_key_still_opens_what_was_read_before_the_rotation(fresh_database_url, tmp_path):
    settings = make_settings(tmp_path / "home", fresh_database_url, wallet_key_b64=None)
    prepare(settings)
    key_file = KeyFile(settings.key_file)
    key_file.create(MasterKey.generate())
    server = Runtime(settings)
    try:
        sealed_v1 = server.secret_box.seal(b"digest-pw", "user:u")  # read before the rotation
        new = key_file.begin_rotation()
        key_file.finish_rotation(new)
        assert server.secret_box.version == 2
        assert server.secret_box.open(sealed_v1, "user:u") == b"digest-pw"
    finally:
        server.close()
