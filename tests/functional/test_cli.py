"""The omgw command line: run as a user would run it (subprocesses, real gunicorn), and
in this process where only what a command prints and stores is tested."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import zeep
from click.testing import CliRunner

from gateway.cli import cli
from gateway.config import Settings
from gateway.errors import ValidationError
from tests.common.cli import omgw, omgw_here
from tests.common.orders import order
from tests.common.processes import free_ports, started, until
from tests.common.soap import client

SECRET = "cli-Pa55word-xyz"


def test_init_creates_database_and_private_key_file(tmp_path):
    home = tmp_path / "home"
    first = omgw(home, "init")
    assert first.returncode == 0, first.stderr
    key = home / "wallet.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (home / "omgw.db").exists()
    content = key.read_bytes()
    again = omgw(home, "init")
    assert again.returncode == 0 and "(kept)" in again.stdout
    assert key.read_bytes() == content  # never overwritten


def test_users_and_source_systems(tmp_path):
    home = tmp_path / "home"
    omgw_here(home, "init")
    added = omgw_here(
        home,
        "user",
        "add",
        "mw",
        "--role",
        "ORDER_IMPORT",
        "--role",
        "ORDER_INQUIRY",
        "--password-stdin",
        stdin=SECRET + "\n",
    )
    assert added.returncode == 0, added.stderr
    listed = omgw_here(home, "user", "list")
    assert json.loads(omgw_here(home, "user", "list", "--json").stdout) == [
        {
            "username": "mw",
            "roles": "ORDER_IMPORT ORDER_INQUIRY",
            "systems": [],
            "all_systems": False,
        }
    ]
    assert "(none)" in listed.stdout  # added without --system: bound to no system yet
    assert SECRET not in listed.stdout + listed.stderr + added.stdout + added.stderr
    assert SECRET.encode() not in (home / "omgw.db").read_bytes()
    short = omgw_here(
        home, "user", "add", "x", "--role", "ORDER_IMPORT", "--password-stdin", stdin="a\n"
    )
    assert short.returncode != 0 and "8 characters" in short.stderr
    bad_role = omgw_here(
        home, "user", "add", "x", "--role", "ROOT", "--password-stdin", stdin=SECRET
    )
    assert bad_role.returncode != 0
    assert omgw_here(home, "user", "remove", "mw").returncode == 0
    assert "mw" not in omgw_here(home, "user", "list").stdout
    again = omgw_here(home, "user", "remove", "mw")
    assert again.returncode == 1 and "no user 'mw'" in again.stderr

    ss = omgw_here(home, "source-system", "add", "WMS9", "--fulfillment", "--type", "PURCHASED")
    assert ss.returncode == 0, ss.stderr
    assert ss.stdout.strip() == "+ source_system WMS9"
    listed = json.loads(omgw_here(home, "source-system", "list", "--json").stdout)
    assert [(r["code"], r["type"], r["fulfillment"], r["order_capture"]) for r in listed] == [
        ("WMS9", "PURCHASED", True, False)
    ]
    neither = omgw_here(home, "source-system", "add", "X1")
    assert neither.returncode == 1 and "enable order_capture, fulfillment" in neither.stderr


@pytest.mark.postgres
def test_init_never_prints_the_database_password(tmp_path):
    from tests.conftest import pg_database

    databases = pg_database()
    url = next(databases).replace("postgres@", "postgres:TopSecret-123@")  # trust auth
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
        env.update(OMGW_HOME=str(tmp_path / "home"), OMGW_DATABASE_URL=url)
        out = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "init"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert "postgres:***@" in out.stdout
        assert "TopSecret-123" not in out.stdout + out.stderr
    finally:
        databases.close()


def test_a_home_that_does_not_exist_is_refused_not_made(tmp_path):
    home = tmp_path / "hoem"  # mistyped
    for args in (("user", "list"), ("connector", "list"), ("worker", "--once")):
        out = omgw(home, *args)
        assert out.returncode == 1, out.stderr
        assert f"no omgw home at {home}: run 'omgw init', or check OMGW_HOME" in out.stderr
        assert "Traceback" not in out.stderr
    assert not home.exists()  # nothing was made
    home.mkdir()  # a directory, but no database in it
    out = omgw(home, "user", "list")
    assert out.returncode == 1 and f"no omgw database in {home} (omgw.db)" in out.stderr
    assert list(home.iterdir()) == []
    # init makes it; from then on the commands work
    assert omgw(home, "init").returncode == 0
    assert omgw(home, "user", "list").stdout.strip() == "(none)"


def test_a_database_named_by_url_needs_no_home(tmp_path, fresh_database_url):
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("OMGW_")}
    env |= {"OMGW_HOME": str(tmp_path / "elsewhere"), "OMGW_DATABASE_URL": fresh_database_url}
    result = CliRunner().invoke(cli, ["user", "list"], env=env)
    assert result.exit_code == 0, result.output


def test_serve_on_a_port_in_use_says_so_and_how_to_choose_another(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        out = omgw(tmp_path / "home", "serve", "--port", str(port), "--no-background")
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in out.stderr
    assert "--port (0 takes a free one)" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(not socket.has_dualstack_ipv6(), reason="no dual-stack IPv6 here")
def test_serve_on_the_ipv6_wildcard_takes_ipv4_callers_too(tmp_path):
    home = tmp_path / "home"
    assert omgw_here(home, "init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--host", "::", "--port", "0"]
    with started([*serve, "--workers", "1", "--no-background"], env) as server:
        assert server.url.startswith("http://[::]:")
        port = server.url.rsplit(":", 1)[1]
        for host in ("127.0.0.1", "[::1]"):
            with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=30) as resp:
                assert resp.read() == b"ok\n"


def test_threads_per_worker_is_a_serve_option_and_a_checked_setting(tmp_path):
    home = tmp_path / "home"
    assert omgw_here(home, "init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["OMGW_HOME"] = str(home)
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--no-background"]
    with started([*serve, "--workers", "1", "--threads", "1"], env) as server:
        wsdl = f"{server.url}/fscmService/OrderImportService?WSDL"
        with urllib.request.urlopen(wsdl, timeout=30) as resp:
            assert b"createOrders" in resp.read()
    refused = omgw(home, "serve", "--threads", "0", "--no-background")
    assert refused.returncode == 2 and "--threads" in refused.stderr
    assert Settings.from_env({"OMGW_HOME": str(home), "OMGW_THREADS": "2"}).threads == 2
    with pytest.raises(ValidationError, match="OMGW_THREADS 'some' must be a whole number"):
        Settings.from_env({"OMGW_HOME": str(home), "OMGW_THREADS": "some"})


def test_version_is_the_installed_packages(tmp_path):
    from importlib.metadata import version

    out = omgw(tmp_path / "no-home", "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["omgw", version("omgw")]
    assert not (tmp_path / "no-home").exists()  # asking the version touches no home


def test_a_setting_that_is_not_a_number_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    assert omgw(home, "init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env |= {"OMGW_HOME": str(home), "OMGW_WORKER_CONCURRENCY": "many"}
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "user", "list"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode != 0
    assert "OMGW_WORKER_CONCURRENCY 'many' must be a whole number" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_key_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    omgw(home, "init")
    (home / "wallet.key").unlink()
    out = omgw(
        home, "user", "add", "mw", "--role", "ORDER_IMPORT", "--password-stdin", stdin=SECRET
    )
    assert out.returncode != 0
    assert "omgw init" in out.stderr and "Traceback" not in out.stderr


def test_serve_runs_gunicorn_and_the_background_loop(tmp_path):
    home = tmp_path / "home"
    # the home as make run leaves it (here: only serve's processes are under test)
    assert omgw_here(home, "init", "--sample").returncode == 0
    sample = Path(__file__).resolve().parents[2] / "gateway" / "setup" / "sample.toml"
    applied = omgw_here(home, "apply", "-f", str(sample))
    assert applied.returncode == 0, applied.stderr
    user, password = (home / "demo-user.txt").read_text().strip().split(":", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(OMGW_HOME=str(home), OMGW_BACKGROUND_INTERVAL_SECONDS="0.2")
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "2"]
    with started(serve, env) as server:
        base = server.url
        imports = client(base, "OrderImportService", user=user, password=password)
        info = client(base, "OrderInformationService", user=user, password=password)
        res = imports.service.stageOrders(request={"Order": [order("CLI-1")]})
        assert res.NumberOfOrdersStaged == 1

        def imported() -> object:
            try:
                return info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": "SO-CLI-1"}])
            except zeep.exceptions.Fault:
                return None  # not imported yet: ORDER_NOT_FOUND

        got = until(imported, "the background loop to import the staged order")
        assert got[0].StatusCode == "OPEN"

        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(timeout=30) == 0
    output = server.output.finish()
    assert f"{base}/fscmService/OrderInformationService?WSDL" in output
    assert password not in output
    # both workers booted, building the three services as they did, and neither
    # announced them; gunicorn announced no control socket either
    assert "Booting worker" in output and "spyne" not in output
    assert "control socket" not in output.lower() and "gunicorn.ctl" not in output


def _served_with_simulators(home: Path, *extra: str) -> list[str]:
    """``serve --simulate`` arguments for a home as make run leaves it."""
    assert omgw_here(home, "init", "--sample").returncode == 0
    sample = Path(__file__).resolve().parents[2] / "gateway" / "setup" / "sample.toml"
    applied = omgw_here(home, "apply", "-f", str(sample))
    assert applied.returncode == 0, applied.stderr
    return [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "1",
            "--simulate", *extra]  # fmt: skip


def test_serve_simulate_runs_the_simulators_where_its_sample_connectors_point(tmp_path):
    home = tmp_path / "home"
    simulator, subscriber = free_ports(2)
    serve = _served_with_simulators(
        home, "--simulator-port", str(simulator), "--subscriber-port", str(subscriber)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(OMGW_HOME=str(home), OMGW_BACKGROUND_INTERVAL_SECONDS="0.2")
    user, password = (home / "demo-user.txt").read_text().strip().split(":", 1)
    with started(serve, env) as server:
        printed = server.output.text
        for name, url in (
            ("WMS01_Fulfillment", f"http://127.0.0.1:{simulator}/simulator/FulfillmentService"),
            ("LEGACY_Events", f"http://127.0.0.1:{subscriber}/events/OrderEventService"),
        ):
            assert f"simulate: connector {name} now points at {url}" in printed, printed
        imports = client(server.url, "OrderImportService", user=user, password=password)
        info = client(server.url, "OrderInformationService", user=user, password=password)
        (created,) = imports.service.createOrders(request={"Order": [order("SIM-1")]})
        assert created.ReturnStatus == "SUCCESS"

        def closed() -> bool:
            got = info.service.GetOrderDetails(Order=[{"OrderNumber": created.OrderNumber}])
            return bool(got[0].StatusCode == "CLOSED")

        until(closed, "the simulated warehouse to ship and bill the order", timeout=60)

        def pushed() -> dict[str, object] | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{subscriber}/state", timeout=10) as r:
                state = json.loads(r.read())
            return state if state["counts"].get("OrderHeaderStatusUpdate") else None

        until(pushed, "the simulated subscriber to receive the CLOSED event", timeout=60)

        # The README's example, run as written against this server: its order closes.
        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
        example = readme.split("```python\n", 1)[1].split("```", 1)[0]
        example = example.replace("http://127.0.0.1:8080/", server.url + "/")
        example = example.replace('".omgw/demo-user.txt"', repr(str(home / "demo-user.txt")))
        exec(compile(example, "README.md", "exec"), {})
        (after,) = info.service.GetOrderDetails(Order=[{"SourceTransactionNumber": "SO-1001"}])
        assert [ln.StatusCode for ln in after.OrderLine] == ["CLOSED"]
        assert after.OrderLine[0].OrderedQuantity._value_1 == 10  # shipped whole, not split
    listed = {c["name"]: c["url"] for c in json.loads(omgw_here(home, "connector", "list",
                                                                 "--json").stdout)}  # fmt: skip
    assert listed["WMS01_Fulfillment"].startswith(f"http://127.0.0.1:{simulator}/")


@pytest.fixture
def root_level():
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)  # as main() leaves it before a command runs
    yield root
    root.setLevel(before)


def test_the_log_level_setting_rules_once_a_command_reads_settings(tmp_path, root_level):
    """``omgw worker`` used to log every delivery at INFO whatever OMGW_LOG_LEVEL said
    (main() set INFO, and nothing applied the setting): 11 MB per 100,000 deliveries."""
    env = {"OMGW_HOME": str(tmp_path / "home"), "OMGW_LOG_LEVEL": "warning"}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0
    root_level.setLevel(logging.INFO)  # as main() leaves it before the next command
    result = CliRunner().invoke(cli, ["jeopardy", "check"], env=env)
    assert result.exit_code == 0, result.output
    assert root_level.level == logging.WARNING
    assert not logging.getLogger("gateway.outbox.worker").isEnabledFor(logging.INFO)


def test_an_unknown_log_level_is_refused_with_the_levels_to_use(tmp_path, root_level):
    env = {"OMGW_HOME": str(tmp_path / "home"), "OMGW_LOG_LEVEL": "loud"}
    result = CliRunner().invoke(cli, ["jeopardy", "check"], env=env)
    assert result.exit_code == 1
    assert "OMGW_LOG_LEVEL 'loud' is not a logging level; use DEBUG, INFO, WARNING" in (
        result.output
    )
    assert not (tmp_path / "home").exists()  # refused before anything was created
