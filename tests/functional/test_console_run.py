"""``omgw serve`` on a home set up as ``make run`` sets one up: it prints the console's
URL and who can sign in, the sample user signs in there, and with OMGW_CONSOLE_PORT the
console is served on its own port and only there. Real gunicorn, real processes."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.common.console import signed_in
from tests.common.processes import started

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env.update(OMGW_HOME=str(home), **extra)
    return env


def _omgw(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def _sample_home(tmp_path: Path) -> tuple[Path, str, str]:
    home = tmp_path / "home"
    _omgw(_env(home), "init", "--sample")
    user, _, password = (home / "demo-user.txt").read_text().strip().partition(":")
    return home, user, password


def test_serve_prints_the_console_and_the_sample_user_signs_in(tmp_path: Path) -> None:
    home, user, password = _sample_home(tmp_path)
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "1"]
    with started(serve, _env(home)) as server:
        line = server.output.wait_for(r"console: (\S+) \(sign in as (\S+): ", timeout=30)
        assert line is not None, server.output.text
        assert line.group(1) == server.url + "/manage/" and line.group(2) == user
        console = signed_in(server.url, user, password)
        dashboard = console.page("/")
        assert dashboard.status_code == 200 and f'<span id="me">{user}</span>' in dashboard.text
    assert password not in server.output.finish()


def test_without_an_admin_serve_says_how_to_turn_the_console_on(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = _env(home)
    _omgw(env, "init")
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "1"]
    with started(serve, env) as server:
        said = server.output.wait_for(r"console: off until .*--role ADMIN", timeout=30)
        assert said is not None, server.output.text
        assert requests.get(server.url + "/manage/login", timeout=10).status_code == 404


def test_the_console_port_serves_the_console_alone(tmp_path: Path) -> None:
    home, user, password = _sample_home(tmp_path)
    port = _free_port()
    serve = [sys.executable, "-m", "gateway.cli", "serve", "--port", "0", "--workers", "1"]
    with started(serve, _env(home, OMGW_CONSOLE_PORT=str(port))) as server:
        line = server.output.wait_for(r"console: (\S+)", timeout=30)
        assert line is not None and line.group(1) == f"http://127.0.0.1:{port}/manage/"
        console_base = f"http://127.0.0.1:{port}"
        assert signed_in(console_base, user, password).page("/").status_code == 200
        on_services = requests.get(server.url + "/manage/login", timeout=10)
        assert on_services.status_code == 404 and str(port) in on_services.text
        wsdl = requests.get(console_base + "/fscmService/OrderImportService?WSDL", timeout=10)
        assert wsdl.status_code == 404
        assert re.search(r"serves the console only", wsdl.text)
