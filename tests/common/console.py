"""A client of the management console and its API, as a browser and a script use them:
the sign-in form with its double-submit token, the session cookie, and the CSRF token
every page carries for its forms (``data-csrf`` on ``<body>``)."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.common.soap import PASSWORD

__all__ = ["Console", "signed_in"]

_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
_CSRF = re.compile(r'data-csrf="([^"]*)"')


class Console:
    """A signed-in browser session against ``base`` (the gateway's URL)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        self.http = requests.Session()
        self.csrf = ""

    def url(self, path: str) -> str:
        return f"{self.base}/manage{path}"

    def sign_in(self, username: str, password: str = PASSWORD) -> requests.Response:
        """Post the sign-in form as a browser does; the answer (a 303 when it worked)."""
        form = self.http.get(self.url("/login"), timeout=10)
        token = _TOKEN.search(form.text)
        assert token, form.text
        answer = self.http.post(
            self.url("/login"),
            data={"login_token": token.group(1), "username": username, "password": password},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code == 303:
            self.refresh_csrf()
        return answer

    def refresh_csrf(self) -> None:
        page = self.http.get(self.url("/"), timeout=10)
        found = _CSRF.search(page.text)
        self.csrf = found.group(1) if found else ""

    def page(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.url(path), params=params, allow_redirects=False, timeout=30)

    def get(self, path: str, **params: Any) -> requests.Response:
        """An API call: ``path`` under /api/v1."""
        return self.http.get(self.url("/api/v1" + path), params=params, timeout=30)

    def send(
        self, method: str, path: str, body: Any = None, *, csrf: bool = True
    ) -> requests.Response:
        """An API change with the session's CSRF token (or, with ``csrf=False``, without)."""
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.http.request(
            method, self.url("/api/v1" + path), json=body, headers=headers, timeout=30
        )

    def submit(self, path: str, form: dict[str, Any], *, csrf: bool = True) -> requests.Response:
        """A page's form POST, as the browser sends it; not followed, to see the redirect."""
        data = {**form, **({"csrf": self.csrf} if csrf else {})}
        return self.http.post(self.url(path), data=data, allow_redirects=False, timeout=30)


def signed_in(base: str, username: str, password: str = PASSWORD) -> Console:
    console = Console(base)
    answer = console.sign_in(username, password)
    assert answer.status_code == 303, answer.text
    return console
