"""``pip install .`` gives a working omgw: the wheel, installed into a fresh virtual
environment outside the checkout, initialises a home and serves the services' WSDLs.

It builds the wheel from a clean copy of the source (a checkout's ``build/`` can hold
files since removed, which would hide a missing one), installs it with its dependencies
from the package index (about a minute), and runs the installed ``omgw`` with its
working directory outside the checkout and no ``PYTHONPATH``, so nothing is read from
the checkout. Select it alone with ``-m packaging``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from gateway.wsdl import CANONICAL_BASE
from tests.common.processes import started

# one worker builds and installs once for the module's tests
pytestmark = [pytest.mark.packaging, pytest.mark.xdist_group("packaging")]

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "OrderImportService"
MIGRATIONS = "gateway/persistence/migrations/versions"
W = "{http://schemas.xmlsoap.org/wsdl/}"
SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
#: what a build does not read: version control, environments, caches, tests, benchmarks
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".hypothesis",
    ".omgw*", "tests", "bench", "node_modules",
)  # fmt: skip


def _env(**extra: str) -> dict[str, str]:
    """This process's environment without anything that points Python or omgw elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OMGW_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env.update(extra)
    return env


def _run(args: list[str | Path], cwd: Path, timeout: float, **env: str) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    shown = " ".join(str(a) for a in args)
    shown = shown if len(shown) < 200 else shown[:200] + "…"
    assert done.returncode == 0, f"{shown} failed ({done.returncode}):\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed; its
    ``bin`` directory."""
    where = tmp_path_factory.mktemp("packaging")
    source = where / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    wheels = where / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", source, "-w", wheels], where, 600)
    (wheel,) = wheels.glob("omgw-*.whl")
    venv = where / "venv"
    # without a pip of its own (ensurepip costs seconds): this process's pip installs into it
    _run([sys.executable, "-m", "venv", "--without-pip", venv], where, 120)
    bin_dir = venv / "bin"
    pip = [sys.executable, "-m", "pip", "--python", bin_dir / "python"]
    _run([*pip, "install", "--quiet", wheel], where, 900)
    return bin_dir


@pytest.fixture
def serving(installed: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``omgw init`` then ``omgw serve`` from the installed environment, in ``tmp_path``;
    the services' base URL and the home."""
    home = tmp_path / "home"
    _run([installed / "omgw", "init"], tmp_path, 120, OMGW_HOME=str(home))
    serve = [installed / "omgw", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1"]
    env = _env(OMGW_HOME=str(home))
    # its own process group: gunicorn's workers and the loop
    with started([str(a) for a in serve], env, cwd=tmp_path, new_session=True) as server:
        yield f"{server.url}/fscmService/", home


#: run by the installed Python: reads every data file the packages read at run time, the
#: way they read it, and prints where the packages and files are
READ_DATA = """
import tomllib, zeep
from lxml import etree
import connectors, gateway, routing
from connectors.push_payload import EVENTS_DIR, WSDL_PATH
from connectors.push_payload_reader import results_schema
from connectors.outbound import OUTBOUND_DIR
from gateway.demo import DEMO_SETUP
results_schema()
for name in ("HeaderTL.xsd", "HeaderTR.xsd"):
    etree.XMLSchema(etree.parse(str(OUTBOUND_DIR / name)))
zeep.Client(str(OUTBOUND_DIR / "FulfillmentRequest.wsdl"))
zeep.Client(str(WSDL_PATH))
sample = DEMO_SETUP.with_name("sample.toml")
for path in (DEMO_SETUP, sample):
    tomllib.loads(path.read_text("utf-8"))
print(gateway.__file__, connectors.__file__, routing.__file__, OUTBOUND_DIR, EVENTS_DIR, sample)
"""


def test_the_installed_package_reads_its_own_data_files(installed, tmp_path):
    paths = _run([installed / "python", "-c", READ_DATA], tmp_path, 120).split()
    assert len(paths) == 6
    for path in paths:
        assert Path(path).is_relative_to(installed.parent), path
        assert not Path(path).is_relative_to(ROOT), path


def test_the_installed_omgw_initialises_and_serves_its_wsdl(serving):
    base, home = serving
    newest = max(p.name[:4] for p in (ROOT / MIGRATIONS).glob("[0-9]*.py"))
    with contextlib.closing(sqlite3.connect(home / "omgw.db")) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(newest,)]
    url = base + SERVICE
    with urllib.request.urlopen(url + "?WSDL", timeout=60) as resp:
        assert resp.status == 200
        served = resp.read()
    root = etree.fromstring(served)
    assert root.tag == W + "definitions"
    (service,) = root.iter(W + "service")
    assert service.get("name") == SERVICE
    (address,) = root.iter(SOAP + "address")
    assert address.get("location") == url
    # the same contract as the checkout publishes
    canonical = served.replace(url.encode(), (CANONICAL_BASE + SERVICE).encode())
    assert canonical == (ROOT / "wsdl" / f"{SERVICE}.wsdl").read_bytes()
