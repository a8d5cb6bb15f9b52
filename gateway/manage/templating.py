"""Pages rendered on the server with Jinja2, every value escaped (autoescape), from the
templates beside this module; no build step and nothing fetched from elsewhere."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from gateway.manage.web_routes import PREFIX
from gateway.security.roles import console_role, grants

if TYPE_CHECKING:
    from gateway.manage.web_routes import Call

__all__ = ["render"]


def _when(value: datetime | str | None) -> str:
    """A time as the console shows it: UTC, to the second."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")


_ENV = Environment(
    loader=PackageLoader("gateway.manage", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["when"] = _when


def render(template: str, call: Call | None, **values: Any) -> str:
    """``template`` with ``values``, and what every page shows: who is signed in, their
    role, the session's CSRF token for forms, and a notice passed by a redirect."""
    roles = call.roles if call is not None else frozenset()
    signed_in = call is not None and call.session is not None
    return _ENV.get_template(template).render(
        prefix=PREFIX,
        me=call.username if signed_in and call is not None else None,
        role=console_role(roles),
        may=lambda needed: grants(roles, needed),
        csrf=call.session.csrf if call is not None and call.session is not None else "",
        notice=_notice(call),
        **values,
    )


def _notice(call: Call | None) -> str | None:
    """The notice a redirect passed to this page, if this session sealed it: the query is
    anyone's to write, and a notice is the console's own word."""
    if call is None or call.session is None or call.request.method != "GET":
        return None
    args = call.request.args
    return call.session.sealed_notice(args.getlist("notice"), args.getlist("seal"))
