"""Processes and ports for tests: started on ports the system picks, waited for by the
signal they give, never by a sleep.

- :func:`started` runs a command that prints the URL it serves once it listens
  (``omgw serve --port 0``, ``omgw simulate … --port 0``) and yields that URL with the
  process and everything it has printed so far.
- :func:`refused_port` holds a port that nothing listens on, for as long as it is needed:
  a bound socket that never listens, so a connection to it is refused and no other
  process can take it meanwhile (a port bound, released and handed on can be).
- :func:`until` polls a condition until it holds or a deadline passes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import pytest

T = TypeVar("T")

#: the first line ``omgw serve`` prints once its port listens
SERVE_READY = r"WSDL: (http://[^/\s]+)/fscmService/"


def until(check: Callable[[], T], what: str, timeout: float = 10.0, step: float = 0.05) -> T:
    """``check()``'s first truthy value, polled every ``step`` seconds; fails the test
    naming ``what`` when none comes within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(step)


class Output:
    """What a process prints (stdout and stderr together), read as it comes so the pipe
    never fills and blocks the process."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._reader.start()

    def _read(self, pipe: object) -> None:
        for line in pipe:  # type: ignore[attr-defined]
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def finish(self, timeout: float = 10.0) -> str:
        """Everything printed, once the process has closed its output."""
        self._reader.join(timeout)
        return self.text

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str] | None:
        """The first match of ``pattern`` in a line printed, waiting up to ``timeout`` s;
        None if the output ends or the time passes without one."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self._lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self._lines)
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return None
                self._changed.wait(left)


@dataclass
class Started:
    proc: subprocess.Popen[str]
    url: str
    output: Output


@contextmanager
def started(
    args: Sequence[str],
    env: dict[str, str],
    *,
    ready: str = SERVE_READY,
    timeout: float = 60.0,
    cwd: str | os.PathLike[str] | None = None,
    new_session: bool = False,
) -> Iterator[Started]:
    """Run ``args`` until the block ends (SIGTERM, then SIGKILL after 20 s): yields once a
    printed line matches ``ready``, whose first group is the URL served."""
    proc = subprocess.Popen(
        list(args),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=new_session,
    )
    output = Output(proc)
    try:
        match = output.wait_for(ready, timeout)
        if match is None:
            proc.kill()
            pytest.fail(f"{' '.join(args[:4])} printed no {ready!r}:\n{output.finish()[-3000:]}")
        yield Started(proc, match.group(1), output)
    finally:
        stop(proc, group=new_session)
        output.finish()


def stop(proc: subprocess.Popen[str], *, group: bool = False) -> None:
    """SIGTERM (to its process group if it leads one), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    send = (lambda sig: os.killpg(proc.pid, sig)) if group else proc.send_signal
    send(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait()


@contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port where connections are refused, held until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """``count`` distinct 127.0.0.1 ports free a moment ago, for a child process to bind."""
    sockets = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    try:
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()
