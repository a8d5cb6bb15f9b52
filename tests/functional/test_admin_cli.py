"""The admin command line through click's runner (both databases) and as a subprocess:
add, list, show, update, remove; apply and export; wallet; audit; exit codes."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from connectors.secret_box import MasterKey
from tests.common.cli import SAMPLE, line_of, omgw, omgw_here
from tests.conftest import Admin

SECRET = "Adm1n-Secret-7c2d"


@pytest.mark.both_databases
def test_apply_is_idempotent_and_a_dry_run_writes_nothing(admin, tmp_path):
    admin.ok("init", "--sample")
    plan = admin.ok("apply", "--dry-run", "-f", str(SAMPLE))
    assert "+ connector WMS01_Fulfillment" in plan and "nothing written" in plan
    assert admin.json("connector", "list") == []  # the dry run changed nothing
    assert admin.json("source-system", "list") == []

    first = admin.ok("apply", "-f", str(SAMPLE))
    assert first.splitlines() == [ln for ln in plan.splitlines() if not ln.startswith("dry run")]
    assert admin.ok("apply", "-f", str(SAMPLE)).strip() == "no changes"

    exported = tmp_path / "exported.toml"
    admin.ok("export", "-o", str(exported))
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"
    text = exported.read_text()
    assert 'key = "WMS01_KEY"' in text and "password" not in text
    assert "[[wallet]]" in text  # each entry a table of its own, so errors name its line

    connectors = {c["name"]: c for c in admin.json("connector", "list")}
    assert connectors["WMS01_Fulfillment"]["response_processing"] == "REJECT_ERROR_GROUPS"
    assert connectors["LEGACY_Events"]["invocation_mode"] == "BUSINESS_EVENT"
    xrefs = admin.json("xref", "list", "--system", "CSS01")
    assert {
        "system": "CSS01",
        "domain": "ITEM",
        "external": "WEB-CM5008",
        "internal": "CM5008",
    } in xrefs
    process = admin.json("process", "show", "RaviPickAndShip")
    assert [s["task_type"] for s in process["step"]] == [
        "Schedule",
        "Pick_From_Ravi",
        "Shipment",
        "Invoice",
    ]


BAD = """\
[[source_system]]
code = "GOOD1"
order_capture = true

[[source_system]]
code = "BAD1"
type = "LEGACY"
fulfillment = true

[[connector]]
name = "C1"
target_system = "NOWHERE"
url = "ftp://wms/x"
invocation_mode = "SOMETIMES"

[connector.retry]
max_attempts = 0

[[process]]
name = "P1"

[[process.step]]
name = "S1"
task_type = "Teleport"
task = "Beam"
service = "Up"
"""


def test_a_bad_file_is_refused_whole_with_line_numbers(admin, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1
    out = result.stderr
    assert "nothing changed" in out and "Traceback" not in out
    expected = [
        (line_of(BAD, 'type = "LEGACY"'), "type: 'LEGACY' is not one of SPOKE, PURCHASED"),
        (line_of(BAD, "target_system ="), "target_system: source system 'NOWHERE' does not exist"),
        (line_of(BAD, "ftp://"), "url: 'ftp://wms/x' must start with http:// or https://"),
        (line_of(BAD, "SOMETIMES"), "invocation_mode: 'SOMETIMES' is not one of"),
        (line_of(BAD, "max_attempts"), "retry.max_attempts: must be between 1 and 100"),
        (line_of(BAD, "Teleport"), "step.0.task_type: task type 'Teleport' does not exist"),
    ]
    for number, message in expected:
        assert f"line {number}: {message}" in out, out
    assert admin.json("source-system", "list") == []  # GOOD1 was not applied either


def test_a_syntax_error_names_its_line(admin, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[[source_system]]\ncode = "X"\norder_capture = tru\n')
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1
    assert "TOML syntax error" in result.stderr and "line 3" in result.stderr


def test_secrets_in_a_setup_file_are_refused(admin, tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(f'[[wallet]]\nkey = "K"\nusername = "u"\npassword = "{SECRET}"\n')
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1 and "secrets never go in a setup file" in result.stderr
    assert SECRET not in result.output


def test_apply_reads_wallet_secrets_from_the_environment_and_changes_nothing_twice(admin, tmp_path):
    path = tmp_path / "wallet.toml"
    path.write_text(
        '[[wallet]]\nkey = "ENV_KEY"\nusername = "svc"\npassword_env = "OMGW_TEST_PW"\n'
    )
    admin.env["OMGW_TEST_PW"] = None
    missing = admin("apply", "-f", str(path))
    assert missing.exit_code == 1 and "OMGW_TEST_PW is not set" in missing.stderr
    admin.env["OMGW_TEST_PW"] = SECRET
    assert admin.ok("apply", "-f", str(path)).strip() == "+ wallet oracle.wsm.security/ENV_KEY"
    assert admin.ok("apply", "-f", str(path)).strip() == "no changes"
    admin.env["OMGW_TEST_PW"] = SECRET + "-rotated"
    assert admin.ok("apply", "-f", str(path)).startswith("~ wallet oracle.wsm.security/ENV_KEY")


@pytest.mark.both_databases
def test_a_failure_while_applying_rolls_everything_back(admin, tmp_path):
    admin.ok("init", "--sample")
    admin.ok("apply", "-f", str(SAMPLE))
    # Valid on its own, but dropping the service breaks process RaviPickAndShip.
    path = tmp_path / "breaks.toml"
    text = """\
[[source_system]]
code = "NEW1"
order_capture = true

[[task_type]]
code = "Pick_From_Ravi"

[[task_type.task]]
name = "Pick Carton"
services = ["Something_Else"]
"""
    path.write_text(text)
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1
    assert f"line {line_of(text, '[[task_type]]')}:" in result.stderr
    assert "process RaviPickAndShip v1" in result.stderr
    assert "NEW1" not in [s["code"] for s in admin.json("source-system", "list")]


@pytest.mark.both_databases
def test_crud_with_referrers_named_and_exit_codes(admin):
    admin.ok("source-system", "add", "WMS02", "--fulfillment", "--type", "PURCHASED")
    admin.ok(
        "wallet",
        "set",
        "oracle.wsm.security",
        "WMS02_KEY",
        "--username",
        "svc",
        "--password-stdin",
        input=SECRET + "\n",
    )
    added = admin.ok(
        "connector", "add", "WMS02_Ship", "--target-system", "WMS02",
        "--url", "https://wms02.example/ship", "--credential-key", "WMS02_KEY",
        "--invocation-mode", "SYNC_SERVICE", "--retry-max-attempts", "3",
    )  # fmt: skip
    assert added.strip() == "+ connector WMS02_Ship"
    shown = admin.json("connector", "show", "WMS02_Ship")
    assert shown["retry"]["max_attempts"] == 3 and shown["invocation_mode"] == "SYNC_SERVICE"
    assert shown["credential"] == {"username": "********", "password": "********"}

    updated = admin.ok("connector", "update", "WMS02_Ship", "--timeout", "5", "--disabled")
    assert "timeout 30.0 → 5.0" in updated and "enabled True → False" in updated
    assert admin.ok("connector", "update", "WMS02_Ship", "--timeout", "5").strip() == "no changes"

    # Users' mistakes: exit 1 with a sentence; usage mistakes: exit 2.
    dup = admin("connector", "add", "WMS02_Ship", "--target-system", "WMS02", "--url", "http://x/")
    assert dup.exit_code == 1 and "already exists" in dup.stderr
    bad_url = admin("connector", "add", "C9", "--target-system", "WMS02", "--url", "wms02/ship")
    assert bad_url.exit_code == 1 and "must start with http:// or https://" in bad_url.stderr
    no_target = admin("connector", "add", "C9", "--target-system", "NOPE", "--url", "http://x/")
    assert no_target.exit_code == 1 and "target system 'NOPE' does not exist" in no_target.stderr
    no_key = admin(
        "connector",
        "add",
        "C9",
        "--target-system",
        "WMS02",
        "--url",
        "http://x/",
        "--credential-key",
        "NOPE",
    )
    assert (
        no_key.exit_code == 1
        and "(oracle.wsm.security, NOPE), which does not exist" in no_key.stderr
    )
    enum = admin("connector", "add", "C9", "--invocation-mode", "SOMETIMES")
    assert enum.exit_code == 2 and "SOMETIMES" in enum.stderr
    assert admin("connector", "show").exit_code == 2
    missing = admin("connector", "show", "NOPE")
    assert missing.exit_code == 1 and "no connector 'NOPE'" in missing.stderr

    in_use = admin("wallet", "remove", "oracle.wsm.security", "WMS02_KEY")
    assert in_use.exit_code == 1 and "connector WMS02_Ship" in in_use.stderr
    in_use = admin("source-system", "remove", "WMS02")
    assert in_use.exit_code == 1 and "connector WMS02_Ship" in in_use.stderr
    admin.ok("connector", "remove", "WMS02_Ship")
    admin.ok("wallet", "remove", "oracle.wsm.security", "WMS02_KEY")
    admin.ok("source-system", "remove", "WMS02")
    assert admin.json("connector", "list") == [] and admin.json("wallet", "list") == []


def test_wallet_listings_show_the_username_and_never_the_password(admin):
    admin.ok("wallet", "set", "oracle.wsm.security", "K1", "--username", "svc-k1",
             "--password-stdin", input=SECRET)  # fmt: skip
    (entry,) = admin.json("wallet", "list")
    assert entry["username"] == "svc-k1" and entry["password"] == "********"
    table = admin.ok("wallet", "list")
    assert "svc-k1" in table and SECRET not in table
    shown = admin.json("wallet", "show", "oracle.wsm.security", "K1")
    assert shown["username"] == "svc-k1" and shown["password"] == "********"
    # an entry this key cannot open is still listed, its username unknown
    admin.env["OMGW_WALLET_KEY"] = MasterKey.generate().to_b64()
    (entry,) = admin.json("wallet", "list")
    assert entry["key"] == "K1" and entry["username"] is None


def test_a_misspelled_name_gets_the_closest_one_suggested(admin):
    admin.ok("init", "--sample")
    admin.ok("apply", "-f", str(SAMPLE))
    for args, message in (
        (("connector", "show", "WMS01_Fulfilment"), "did you mean 'WMS01_Fulfillment'?"),
        (("connector", "remove", "legacy_events"), "did you mean 'LEGACY_Events'?"),
        (("source-system", "show", "LEGASY"), "did you mean 'LEGACY'?"),
        (("task-type", "show", "Shipmnet"), "did you mean 'Shipment'?"),
        (("process", "show", "RaviPickAndShp"), "did you mean 'RaviPickAndShip'?"),
        (("user", "remove", "omgw-dmeo"), "did you mean 'omgw-demo'?"),
        (("user", "bind", "omgw-demo", "--system", "WMS1"), "did you mean 'WMS01'?"),
        (("trigger", "remove", "HOLDS"), "did you mean 'HOLD'?"),
        (("wallet", "show", "oracle.wsm.security", "WMS01_KYE"), "did you mean 'WMS01_KEY'?"),
        (("messages", "list", "--connector", "WMS01_Fulfilment"), "'WMS01_Fulfillment'?"),
        (("connector", "add", "C9", "--target-system", "WMS10", "--url", "http://x/"),
         "target system 'WMS10' does not exist; did you mean 'WMS01'?"),
    ):  # fmt: skip
        result = admin(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    nothing_close = admin("connector", "show", "Teleport")
    assert nothing_close.exit_code == 1 and "did you mean" not in nothing_close.stderr


def test_a_command_given_json_reports_its_error_as_json_with_the_same_exit_code(admin):
    missing = admin("connector", "show", "NOPE", "--json")
    assert missing.exit_code == 1 and missing.stderr == ""
    assert json.loads(missing.stdout) == {
        "error": {"code": "CONNECTOR_UNKNOWN", "message": "there is no connector 'NOPE'"}
    }
    usage = admin("connector", "add", "C9", "--invocation-mode", "SOMETIMES", "--json")
    assert usage.exit_code == 2
    error = json.loads(usage.stdout)["error"]
    assert error["code"] == "USAGE_ERROR" and "SOMETIMES" in error["message"]
    short = admin("user", "add", "u", "--role", "ORDER_IMPORT", "--password-stdin", "--json",
                  input="short")  # fmt: skip
    assert short.exit_code == 1
    assert json.loads(short.stdout)["error"] == {
        "code": "COMMAND_FAILED",
        "message": "the password must have at least 8 characters",
    }
    # without --json: one sentence on standard error, as before
    plain = admin("connector", "show", "NOPE")
    assert plain.exit_code == 1 and plain.stdout == ""
    assert plain.stderr == "Error: there is no connector 'NOPE'\n"


def test_an_event_subscriber_is_a_source_system_of_its_own_kind(admin, tmp_path):
    admin.ok("source-system", "add", "CRM", "--events-only", "--type", "PURCHASED")
    (crm,) = admin.json("source-system", "list")
    assert (crm["order_capture"], crm["fulfillment"], crm["events_only"]) == (False, False, True)
    assert "EVENTS ONLY" in admin.ok("source-system", "list")
    admin.ok("connector", "add", "CRM_Events", "--target-system", "CRM",
             "--url", "http://127.0.0.1:9/events", "--invocation-mode", "BUSINESS_EVENT")  # fmt: skip
    admin.ok("trigger", "set", "HOLD", "--connector", "CRM_Events")

    both = admin("source-system", "add", "X1", "--events-only", "--fulfillment")
    assert both.exit_code == 1 and "drop order_capture and fulfillment" in both.stderr
    neither = admin("source-system", "add", "X2")
    assert neither.exit_code == 1 and "or events_only for a system" in neither.stderr

    exported = tmp_path / "exported.toml"
    admin.ok("export", "-o", str(exported))
    assert "events_only = true" in exported.read_text()
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"

    admin.ok("source-system", "update", "CRM", "--fulfillment")  # it took up a role
    shown = admin.json("source-system", "show", "CRM")
    assert shown["fulfillment"] is True and "events_only" not in shown
    admin.ok("source-system", "update", "CRM", "--events-only")
    assert admin.json("source-system", "show", "CRM")["events_only"] is True


def test_task_types_and_processes_from_the_cli(admin):
    admin.ok(
        "task-type",
        "add",
        "Pick_From_Ravi",
        "--task",
        "Pick Carton=Pick_From_Ravi_Create,Pick_From_Ravi_Cancel",
    )
    shown = admin.json("task-type", "show", "Pick_From_Ravi")
    assert shown["task"] == [
        {"name": "Pick Carton", "services": ["Pick_From_Ravi_Create", "Pick_From_Ravi_Cancel"]}
    ]
    assert admin.json("task-type", "show", "Shipment")["built_in"] is True
    admin.ok(
        "process", "add", "Ravi",
        "--step", "Pick=Pick_From_Ravi/Pick Carton/Pick_From_Ravi_Create,EXTERNAL,4h",
        "--step", "Ship=Shipment/Ship/Create Shipment Request,2d",
    )  # fmt: skip
    assert "version 2" not in admin.ok("process", "show", "Ravi")
    admin.ok("process", "update", "Ravi", "--step", "Ship=Shipment/Ship/Create Shipment Request")
    newest = admin.json("process", "show", "Ravi")
    assert newest["version"] == 2 and newest["versions"] == [1, 2]
    assert [s["name"] for s in admin.json("process", "show", "Ravi", "--version", "1")["step"]] == [
        "Pick",
        "Ship",
    ]
    bad = admin("process", "add", "P2", "--step", "X=Shipment/Ship/Teleport")
    assert bad.exit_code == 1 and "has no service 'Teleport'" in bad.stderr
    malformed = admin("process", "add", "P2", "--step", "no-equals-sign")
    assert malformed.exit_code == 2
    used = admin("task-type", "remove", "Pick_From_Ravi")
    assert used.exit_code == 1 and "process Ravi v1" in used.stderr
    builtin = admin("task-type", "remove", "Shipment")
    assert builtin.exit_code == 1 and "built in" in builtin.stderr
    rows = {r["name"]: r for r in admin.json("process", "list")}
    assert rows["DOO_OrderFulfillmentGenericProcess"]["built_in"] is True
    assert rows["Ravi"]["version"] == 2


def test_audit_names_the_actor_and_never_the_secret(admin):
    admin.ok("--actor", "carol", "source-system", "add", "S1", "--order-capture")
    admin.ok(
        "--actor",
        "carol",
        "wallet",
        "set",
        "oracle.wsm.security",
        "S1_KEY",
        "--username",
        "svc",
        "--password-stdin",
        input=SECRET,
    )
    admin.ok("source-system", "update", "S1", "--time-zone", "Europe/Paris")
    entries = admin.json("audit", "list")
    latest = entries[0]
    assert latest["action"] == "update" and latest["key"] == "S1"
    assert latest["before"]["time_zone"] == "UTC" and latest["after"]["time_zone"] == "Europe/Paris"
    assert [(e["actor"], e["entity"]) for e in entries[1:3]] == [
        ("carol", "wallet"),
        ("carol", "source_system"),
    ]
    assert SECRET not in json.dumps(entries) and "svc" not in json.dumps(entries)
    assert [
        e["entity"] for e in admin.json("audit", "list", "--actor", "carol", "--entity", "wallet")
    ] == ["wallet"]


def test_xref_cli(admin):
    admin.ok("source-system", "add", "CSS01", "--order-capture")
    added = admin("xref", "add", "CSS01", "ITEM", "WEB-1", "CM5008")
    assert added.exit_code == 0 and "cross-reference is off for CSS01" in added.stderr
    assert admin("xref", "add", "CSS01", "ITEM", "WEB-1", "X").exit_code == 1
    assert admin("xref", "add", "CSS01", "item", "WEB-2", "X").exit_code == 1  # domain case
    admin.ok("xref", "update", "CSS01", "ITEM", "WEB-1", "CM5009")
    assert admin.json("xref", "list") == [
        {"system": "CSS01", "domain": "ITEM", "external": "WEB-1", "internal": "CM5009"}
    ]
    admin.ok("xref", "remove", "CSS01", "ITEM", "WEB-1")
    assert admin("xref", "remove", "CSS01", "ITEM", "WEB-1").exit_code == 1


@pytest.mark.both_databases
def test_rotate_key_from_the_cli(admin):
    admin.ok(
        "wallet",
        "set",
        "oracle.wsm.security",
        "K1",
        "--username",
        "svc",
        "--password-stdin",
        input=SECRET,
    )
    admin.ok("user", "add", "mw", "--role", "ORDER_IMPORT", "--password-stdin", input=SECRET)
    before = (admin.home / "wallet.key").read_text()
    out = admin.ok("wallet", "rotate-key")
    assert "rotated to key version 2: 2 secret(s) re-encrypted" in out
    after = (admin.home / "wallet.key").read_text()
    assert after != before and after.startswith("v2:")
    assert not (admin.home / "wallet.key.next").exists()
    assert admin.ok("wallet", "verify").splitlines() == [
        "oracle.wsm.security/K1: ok",
        "user mw: ok",
        "all 2 secrets open",
    ]
    assert [e["key_version"] for e in admin.json("wallet", "list")] == [2]


def _password_hash(admin: Admin, name: str) -> str:
    from sqlalchemy import create_engine, select

    from gateway.persistence.models import User

    engine = create_engine(str(admin.env["OMGW_DATABASE_URL"]))
    try:
        with engine.connect() as conn:
            return conn.execute(select(User.password_hash).where(User.username == name)).one()[0]
    finally:
        engine.dispose()


def test_adding_a_user_that_exists_is_refused_unless_replace_is_given(admin):
    from gateway.security.passwords import verify_password

    admin.ok("user", "add", "mw", "--role", "ORDER_IMPORT", "--password-stdin", input=SECRET)
    again = admin(
        "user", "add", "mw", "--role", "ORDER_INQUIRY", "--password-stdin", input="0ther-Secret"
    )
    assert again.exit_code == 1
    assert "user mw already exists" in again.stderr and "--replace" in again.stderr
    assert [u["roles"] for u in admin.json("user", "list")] == ["ORDER_IMPORT"]
    assert verify_password(SECRET, _password_hash(admin, "mw"))  # the password was kept

    replaced = admin.ok(
        "user", "add", "mw", "--replace", "--role", "ORDER_INQUIRY", "--password-stdin",
        input="0ther-Secret",
    )  # fmt: skip
    assert replaced.startswith("~ user mw")
    assert [u["roles"] for u in admin.json("user", "list")] == ["ORDER_INQUIRY"]
    assert verify_password("0ther-Secret", _password_hash(admin, "mw"))


@pytest.mark.both_databases
def test_rotate_key_with_an_environment_key(admin):
    old = MasterKey.generate()
    admin.env["OMGW_WALLET_KEY"] = old.to_b64()
    admin.ok(
        "wallet",
        "set",
        "oracle.wsm.security",
        "K1",
        "--username",
        "svc",
        "--password-stdin",
        input=SECRET,
    )
    one_key = admin("wallet", "rotate-key")
    assert one_key.exit_code == 2 and "new first" in one_key.stderr
    new = MasterKey.generate(version=2)
    admin.env["OMGW_WALLET_KEY"] = f"{new.to_text()},{old.to_b64()}"
    # While both are set, new secrets are sealed with the new key already.
    admin.ok(
        "wallet",
        "set",
        "oracle.wsm.security",
        "K2",
        "--username",
        "u",
        "--password-stdin",
        input=SECRET,
    )
    assert sorted(e["key_version"] for e in admin.json("wallet", "list")) == [1, 2]
    out = admin.ok("wallet", "rotate-key")
    assert "re-encrypted 1 secret(s) under key version 2" in out and new.to_b64() not in out
    admin.env["OMGW_WALLET_KEY"] = new.to_text()
    assert "all 2 secrets open" in admin.ok("wallet", "verify")
    admin.env["OMGW_WALLET_KEY"] = old.to_b64()
    stale = admin("wallet", "verify")
    assert stale.exit_code == 1 and "version 2, which is not loaded" in stale.stdout


def test_no_secret_in_the_database_file_logs_or_output(tmp_path):
    home = tmp_path / "home"
    outputs = [omgw_here(home, "init", "--sample"), omgw_here(home, "apply", "-f", str(SAMPLE))]
    outputs.append(
        omgw_here(
            home,
            "wallet",
            "set",
            "oracle.wsm.security",
            "WMS01_KEY",
            "--username",
            "svc-user",
            "--password-stdin",
            stdin=SECRET + "\n",
        )
    )
    # the wallet's own listings show the username (not a secret: every request carries
    # it); nothing else shows even that
    listings = [
        omgw_here(home, *args)
        for args in (
            ("wallet", "list"), ("wallet", "list", "--json"),
            ("wallet", "show", "oracle.wsm.security", "WMS01_KEY"),
        )
    ]  # fmt: skip
    for args in (
        ("connector", "show", "WMS01_Fulfillment"), ("connector", "show", "WMS01_Fulfillment", "--json"),
        ("audit", "list", "--json"), ("export",), ("wallet", "verify"), ("wallet", "rotate-key"),
    ):  # fmt: skip
        outputs.append(omgw_here(home, *args))
    for out in outputs + listings:
        assert out.returncode == 0, out.stderr
        assert SECRET not in out.stdout + out.stderr
    for out in outputs:
        assert "svc-user" not in out.stdout + out.stderr
    assert all("svc-user" in out.stdout for out in listings)
    db = home / "omgw.db"
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    for path in home.iterdir():
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_key_problems_are_clear_errors_not_tracebacks(tmp_path):
    # each command a process of its own: every omgw process checks the key file at start
    home = tmp_path / "home"
    omgw(home, "init")
    omgw(
        home,
        "wallet",
        "set",
        "oracle.wsm.security",
        "K",
        "--username",
        "u",
        "--password-stdin",
        stdin=SECRET,
    )
    key = home / "wallet.key"
    key.chmod(0o644)
    loose = omgw(home, "wallet", "verify")
    assert loose.returncode == 0 and "open to other users (mode 644)" in loose.stderr
    assert key.stat().st_mode & 0o777 == 0o600  # made private, not only warned about
    key.chmod(0o600)
    key.write_text(MasterKey.generate().to_text())  # someone replaced the key
    wrong = omgw(home, "wallet", "verify")
    assert wrong.returncode == 1 and "wrong wallet key" in wrong.stdout + wrong.stderr
    key.write_text("garbage!!\n")
    broken = omgw(home, "wallet", "verify")
    assert broken.returncode == 1 and "not valid base64" in broken.stderr
    key.unlink()
    gone = omgw(
        home,
        "wallet",
        "set",
        "oracle.wsm.security",
        "K2",
        "--username",
        "u",
        "--password-stdin",
        stdin=SECRET,
    )
    assert gone.returncode == 1 and "omgw init" in gone.stderr
    for out in (loose, wrong, broken, gone):
        assert "Traceback" not in out.stderr


TRICKY = '''\
[[connector]]
name = "BAD1"
description = """
[[connector]]
not a table, just text in a string
"""
target_system = "NOWHERE"
url = "http://x/"

[[connector]]
name = "A"
target_system = "S1"
url = "http://x/"
retry.max_attempts = 0
tags = [
  ["not", "a", "table"],
]

[[connector]]
name = "A"
target_system = "S1"
url = "http://x/"
'''


def test_line_numbers_survive_strings_dotted_keys_arrays_and_duplicates(admin, tmp_path):
    admin.ok("source-system", "add", "S1", "--fulfillment")
    path = tmp_path / "tricky.toml"
    path.write_text(TRICKY)
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1
    lines = [ln.split(": ", 1)[1] for ln in result.stderr.splitlines() if ": line " in ln]
    assert lines == [
        f"line {line_of(TRICKY, 'NOWHERE')}: target_system: source system 'NOWHERE' does not exist",
        f"line {line_of(TRICKY, 'retry.max_attempts')}: retry.max_attempts: must be between 1 and 100",
        f"line {line_of(TRICKY, 'tags = [')}: tags: is not a known setting",
        f"line {len(TRICKY.splitlines()) - 3}: A appears twice in the file",
    ]


@pytest.mark.both_databases
def test_export_applies_back_with_dormant_value_maps(admin, tmp_path):
    admin.ok("source-system", "add", "S1", "--order-capture")
    admin.ok("xref", "add", "S1", "ITEM", "OLD-1", "AS54888")  # cross-reference is off
    exported = tmp_path / "e.toml"
    admin.ok("export", "-o", str(exported))
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe[[source_system]]", "cannot read"),
        (
            b'[[wallet]]\nkey = "K"\nusername = "u"\npassword_env = 5\n',
            "password_env: must be a non-empty string",
        ),
        (
            b'[[wallet]]\nkey = "K"\nusername = "u"\npassword_file = 5\n',
            "password_file: must be a non-empty string",
        ),
        (
            b'[[source_system]]\ncode = "S9"\nname = "a\\u0000b"\norder_capture = true\n',
            "name: must not contain control characters",
        ),
        (
            b'[[process]]\nname = "P"\n[[process.step]]\nname = "s"\ntask_type = "Shipment"\ntask = "Ship"\nservice = "Create Shipment Request"\nplanned_duration = "1500000d"\n',
            "longest planned duration",
        ),
        (
            b'[[task_type]]\ncode = "TT"\n[[task_type.task]]\nname = "T"\nservices = ["'
            + b"S" * 130
            + b'"]\n',
            "1 to 120 characters",
        ),
        (b"[nonsense]\n", "unknown section 'nonsense'"),
    ],
)
def test_hostile_setup_files_get_one_sentence(admin, tmp_path, content, message):
    path = tmp_path / "hostile.toml"
    path.write_bytes(content)
    result = admin("apply", "-f", str(path))
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_hostile_cli_values_get_one_sentence(admin, tmp_path):
    admin.ok("source-system", "add", "S1", "--order-capture")
    long_value = admin("xref", "add", "S1", "ITEM", "E" * 301, "AS1")
    assert long_value.exit_code == 1 and "1 to 300 characters" in long_value.stderr
    near_limit = admin("xref", "add", "S1", "ITEM", "E" * 290, "AS1")  # its audit key is longer
    assert near_limit.exit_code == 0, near_limit.output
    actor = admin("--actor", "x" * 101, "source-system", "list")
    assert actor.exit_code == 2 and "--actor" in actor.stderr
    wallet_key = admin(
        "wallet", "set", "m", "k\x01", "--username", "u", "--password-stdin", input=SECRET
    )
    assert wallet_key.exit_code == 1 and "control characters" in wallet_key.stderr
    duration = admin(
        "process",
        "add",
        "P2",
        "--step",
        "S=Shipment/Ship/Create Shipment Request,9999999999999999999d",
    )
    assert duration.exit_code == 1 and "longest planned duration" in duration.stderr
    unwritable = admin("export", "-o", str(tmp_path / "missing" / "x.toml"))
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.stderr
    for result in (long_value, actor, wallet_key, duration, unwritable):
        assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.both_databases
def test_hosts_sharing_a_database_never_seal_with_a_foreign_or_stale_key(admin, tmp_path):
    """DESIGN §9: several hosts, one database, one key file each."""
    admin.ok("wallet", "set", "m", "A_KEY", "--username", "u", "--password-stdin", input=SECRET)
    other = Admin({**admin.env, "OMGW_HOME": str(tmp_path / "host-b")}, tmp_path / "host-b")
    refused = other("init")  # no key file there, and the database already holds secrets
    assert refused.exit_code == 1 and "copy wallet.key" in refused.stderr
    assert not (other.home / "wallet.key").exists()
    (other.home / "wallet.key").write_text(MasterKey.generate().to_text())  # a foreign key
    (other.home / "wallet.key").chmod(0o600)
    foreign = other(
        "wallet", "set", "m", "B_KEY", "--username", "u", "--password-stdin", input=SECRET
    )
    assert foreign.exit_code == 1 and "not the key this database" in foreign.stderr
    # Host B gets a copy of A's key; then A rotates. B's stale copy may not seal any more.
    (other.home / "wallet.key").write_text((admin.home / "wallet.key").read_text())
    other.ok("wallet", "set", "m", "B_KEY", "--username", "u", "--password-stdin", input=SECRET)
    admin.ok("wallet", "rotate-key")
    stale = other("user", "add", "bob", "--role", "ORDER_IMPORT", "--password-stdin", input=SECRET)
    assert stale.exit_code == 1 and "rotated elsewhere" in stale.stderr
    assert "all 2 secrets open" in admin.ok("wallet", "verify")


@pytest.mark.both_databases
def test_rotate_key_refuses_a_new_key_that_is_not_the_newest(admin):
    old = MasterKey.generate()
    admin.env["OMGW_WALLET_KEY"] = old.to_b64()
    admin.ok("wallet", "set", "m", "K", "--username", "u", "--password-stdin", input=SECRET)
    admin.env["OMGW_WALLET_KEY"] = f"{old.to_b64()},{MasterKey.generate(2).to_text()}"
    wrong_order = admin("wallet", "rotate-key")
    assert wrong_order.exit_code == 1 and "must come first" in wrong_order.stderr


@pytest.mark.both_databases
def test_a_failed_rotation_says_what_is_pending(admin):
    admin.ok("wallet", "set", "m", "K", "--username", "u", "--password-stdin", input=SECRET)
    admin.ok("user", "add", "bob", "--role", "ORDER_IMPORT", "--password-stdin", input=SECRET)
    from sqlalchemy import create_engine, update

    from gateway.persistence.models import User

    engine = create_engine(str(admin.env["OMGW_DATABASE_URL"]))
    with engine.begin() as conn:  # bob's digest secret copied from another row
        sealed = conn.execute(text_select_sealed()).scalar()
        conn.execute(update(User).where(User.username == "bob").values(digest_secret=sealed))
    engine.dispose()
    failed = admin("wallet", "rotate-key")
    assert failed.exit_code == 1
    assert "user bob" in failed.stderr and "keep that file" in failed.stderr
    assert (admin.home / "wallet.key.next").exists()


def text_select_sealed():
    from sqlalchemy import select

    from gateway.persistence.models import WalletEntry

    return select(WalletEntry.sealed).limit(1)


@pytest.mark.both_databases
def test_processes_starting_together_on_a_new_database_all_come_up(empty_database_url, tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(OMGW_HOME=str(tmp_path / "h"), OMGW_DATABASE_URL=empty_database_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "task-type", "list", "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert len(json.loads(out)) == 6  # the built-ins, once each


@pytest.mark.both_databases
def test_value_maps_with_odd_characters_round_trip(admin, tmp_path):
    admin.ok("source-system", "add", "S1", "--order-capture", "--cross-reference")
    for external, internal in ((" lead", "trail "), ("a.b", 'q"uote'), ("x\u2028y", "ünï")):
        admin.ok("xref", "add", "S1", "ITEM", external, internal)
    exported = tmp_path / "e.toml"
    admin.ok("export", "-o", str(exported))
    assert admin.ok("apply", "-f", str(exported)).strip() == "no changes"
    text = exported.read_text()
    with exported.open("a") as handle:
        handle.write('\n[[connector]]\nname = "C9"\ntarget_system = "S1"\nurl = "ftp://x"\n')
    bad = admin("apply", "-f", str(exported))
    expected = len((text + '\n[[connector]]\nname = "C9"\n').split("\n")) + 1
    assert f"line {expected}: url:" in bad.stderr


def test_a_ca_bundle_is_found_beside_the_setup_file(admin, tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (sub / "setup.toml").write_text(
        '[[source_system]]\ncode = "S1"\nfulfillment = true\n\n'
        '[[connector]]\nname = "C1"\ntarget_system = "S1"\nurl = "https://x/"\n'
        '[connector.tls]\nca_bundle = "ca.pem"\n'
    )
    monkeypatch.chdir(tmp_path)
    admin.ok("apply", "-f", str(sub / "setup.toml"))
    assert admin.json("connector", "show", "C1")["tls"]["ca_bundle"] == str(sub / "ca.pem")
    admin.ok("connector", "update", "C1", "--timeout", "5")  # from elsewhere, unrelated change
    assert admin.ok("apply", "-f", str(sub / "setup.toml")).strip().startswith("~ connector C1")


@pytest.mark.both_databases
def test_audit_times_are_utc(admin):
    admin.ok("source-system", "add", "S1", "--order-capture")
    entries = admin.json("audit", "list")
    assert all(e["at"].endswith("+00:00") for e in entries)
    assert admin.json("audit", "list", "--since", "2999-01-01") == []
    assert admin.json("audit", "list", "--since", "2000-01-01")
