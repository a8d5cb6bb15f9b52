"""node-soap beside the gateway: the same WSDL served by a widely used SOAP stack.

A reference point outside Python: ``bench/node/server.js`` publishes the gateway's own
``OrderFulfillmentResponseService.wsdl`` with the npm package ``soap`` and answers
``processFulfillmentResponse`` with a same-sized result and no other work, in
``processes`` workers of node's ``cluster`` module. npm and the package are fetched at
run time into a temporary folder (reused), so nothing here is part of the project's
install; ``available()`` says when node or npm is missing so callers can skip.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["SOAP_VERSION", "WSDL", "available", "install", "serve", "stop"]

#: npm spec of node-soap: pinned major, so a new major never changes the benchmark silently.
SOAP_VERSION = "soap@1"
ROOT = Path(__file__).resolve().parents[1]
WSDL = ROOT / "wsdl" / "OrderFulfillmentResponseService.wsdl"
SERVER_JS = ROOT / "bench" / "node" / "server.js"
PATH = "/fscmService/OrderFulfillmentResponseService"


def _tool(name: str) -> str | None:
    return shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)


def available() -> str | None:
    """None when node and npm can be used, else a one-line reason."""
    for name in ("node", "npm"):
        exe = _tool(name)
        if exe is None:
            return f"{name} not found"
        try:
            subprocess.run([exe, "--version"], capture_output=True, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{name} --version failed: {exc}"
    return None


def install(cache_dir: Path | None = None) -> Path:
    """Install node-soap into ``cache_dir`` (reused when already there); the folder that
    holds ``node_modules``."""
    folder = cache_dir or Path(tempfile.gettempdir()) / "omgw-bench-node-soap"
    if (folder / "node_modules" / "soap" / "package.json").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    npm = _tool("npm")
    if npm is None:
        raise RuntimeError("npm not found")
    if not (folder / "package.json").exists():
        (folder / "package.json").write_text('{"name": "omgw-bench-node-soap", "private": true}\n')
    proc = subprocess.run(
        [npm, "install", SOAP_VERSION, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0 or not (folder / "node_modules" / "soap").exists():
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"npm install {SOAP_VERSION} failed ({proc.returncode}):\n{tail}")
    return folder


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def serve(port: int, processes: int = 2) -> subprocess.Popen:
    """Start the node-soap server on 127.0.0.1:``port``; returns once its WSDL answers.
    The caller stops it with ``stop``; so does exit (and the server itself after an hour)."""
    node = _tool("node")
    if node is None:
        raise RuntimeError("node not found")
    env = {
        **os.environ,
        "NODE_PATH": str(install() / "node_modules"),
        "PORT": str(port),
        "WSDL": str(WSDL),
        "PROCESSES": str(processes),
    }
    proc = subprocess.Popen([node, str(SERVER_JS)], env=env, stdin=subprocess.DEVNULL)
    atexit.register(stop, proc)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node-soap server exited with {proc.returncode}")
        if _ok(f"http://127.0.0.1:{port}{PATH}?wsdl"):
            return proc
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"node-soap server did not answer on port {port} within 30 s")


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server (the cluster primary stops its workers) and wait."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
