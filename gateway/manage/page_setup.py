"""Setup pages: connectors with their health and source systems, the wallet (passwords
write-only), trigger points, and the audit log; forms posting to the same functions the
JSON API calls."""

from __future__ import annotations

from typing import Any

from connectors.connector_specs import AUTH_STYLES, INVOCATION_MODES, PROCESSING_OPTIONS
from connectors.trigger_points import TRIGGER_EVENTS
from gateway.errors import ValidationError
from gateway.manage.api_audit import audit_list
from gateway.manage.api_connectors import (
    change_connector,
    connector_list,
    create_connector,
    remove_connector,
    remove_trigger,
    set_trigger,
    source_system_list,
    trigger_list,
)
from gateway.manage.api_wallet import remove_entry, rotate_entry, set_entry, wallet_list
from gateway.manage.web_routes import Call, Page, Redirect, page
from gateway.persistence.audit_trail import Change

__all__ = [
    "audit_page",
    "connector_add",
    "connector_edit",
    "connector_enable",
    "connector_remove",
    "connectors_page",
    "trigger_remove",
    "trigger_set",
    "triggers_page",
    "wallet_page",
    "wallet_remove",
    "wallet_rotate",
    "wallet_set",
]


def _said(changes: Change | None, what: str) -> str:
    return f"{what}: no change" if changes is None else changes.describe()


# -- connectors ------------------------------------------------------------------------

_TEXT = ("target_system", "url", "description", "credential_map", "credential_key")
_CHOICES = ("auth", "invocation_mode", "response_processing")
_NUMBERS = {
    "timeout": ("timeout", None),
    "retry_max_attempts": ("retry", "max_attempts"),
    "retry_base_delay": ("retry", "base_delay"),
    "retry_max_delay": ("retry", "max_delay"),
}


def _connector_form(call: Call) -> dict[str, Any]:
    """A connector's fields from the page's form (every field: the form shows them all)."""
    form = call.request.form
    data: dict[str, Any] = {k: form.get(k, "").strip() for k in _TEXT + _CHOICES if k in form}
    for field, (part, sub) in _NUMBERS.items():
        text = form.get(field, "").strip()
        if not text:
            continue
        try:
            number: float | int = int(text) if field == "retry_max_attempts" else float(text)
        except ValueError:
            raise ValidationError("INVALID_VALUE", f"{field} must be a number") from None
        if sub is None:
            data[part] = number
        else:
            data.setdefault(part, {})[sub] = number
    for flag in ("enabled", "send_attachments"):
        data[flag] = form.get(flag) == "on"
    data["tls"] = {"verify": form.get("tls_verify") == "on"}
    if not data.get("credential_key"):
        data.pop("credential_key", None)
    return data


@page("GET", "/connectors", role="VIEWER", summary="Connectors, their health, source systems")
def connectors_page(call: Call) -> Page:
    connectors = connector_list(call)
    return Page(
        "connectors.html",
        {
            "title": "Connectors",
            "connectors": connectors,
            "systems": source_system_list(call),
            "edit": next((c for c in connectors if c["name"] == call.arg("edit")), None),
            "auth_styles": AUTH_STYLES,
            "modes": INVOCATION_MODES,
            "options": PROCESSING_OPTIONS,
        },
    )


@page("POST", "/connectors", role="ADMIN", summary="Register a connector")
def connector_add(call: Call) -> Redirect:
    data = {"name": (call.request.form.get("name") or "").strip(), **_connector_form(call)}
    change = create_connector(call, data)
    return Redirect("/connectors", notice=_said(change, "connector"))


@page("POST", "/connectors/<name>", role="ADMIN", summary="Change a connector")
def connector_edit(call: Call, name: str) -> Redirect:
    data = _connector_form(call)
    if "credential_key" not in data:
        data["credential_key"] = ""  # the form left it empty: no credential
    change = change_connector(call, name, data)
    return Redirect("/connectors", notice=_said(change, f"connector {name}"))


@page("POST", "/connectors/<name>/<any(enable, disable):action>", role="ADMIN",
      summary="Enable or disable a connector")  # fmt: skip
def connector_enable(call: Call, name: str, action: str) -> Redirect:
    change = change_connector(call, name, {"enabled": action == "enable"})
    return Redirect("/connectors", notice=_said(change, f"connector {name}"))


@page("POST", "/connectors/<name>/remove", role="ADMIN", summary="Remove a connector")
def connector_remove(call: Call, name: str) -> Redirect:
    return Redirect("/connectors", notice=remove_connector(call, name).describe())


# -- wallet ----------------------------------------------------------------------------


@page("GET", "/wallet", role="VIEWER", summary="Wallet entries (never a password)")
def wallet_page(call: Call) -> Page:
    return Page("wallet.html", {"title": "Wallet", "entries": wallet_list(call)})


@page("POST", "/wallet", role="ADMIN", summary="Set a wallet entry")
def wallet_set(call: Call) -> Redirect:
    change = set_entry(call, dict(call.request.form.items()))
    return Redirect("/wallet", notice=_said(change, "wallet entry"))


@page("POST", "/wallet/<credential_map>/<key>/rotate", role="ADMIN",
      summary="Rotate a wallet entry's password")  # fmt: skip
def wallet_rotate(call: Call, credential_map: str, key: str) -> Redirect:
    change = rotate_entry(call, credential_map, key, dict(call.request.form.items()))
    return Redirect("/wallet", notice=_said(change, f"wallet {credential_map}/{key}"))


@page("POST", "/wallet/<credential_map>/<key>/remove", role="ADMIN",
      summary="Remove a wallet entry")  # fmt: skip
def wallet_remove(call: Call, credential_map: str, key: str) -> Redirect:
    return Redirect("/wallet", notice=remove_entry(call, credential_map, key).describe())


# -- trigger points --------------------------------------------------------------------


@page("GET", "/triggers", role="VIEWER", summary="Trigger points")
def triggers_page(call: Call) -> Page:
    return Page(
        "triggers.html",
        {"title": "Trigger points", "points": trigger_list(call), "events": TRIGGER_EVENTS},
    )


@page("POST", "/triggers", role="ADMIN", summary="Create or change a trigger point")
def trigger_set(call: Call) -> Redirect:
    form = call.request.form
    data = {
        "event": form.get("event", ""),
        "criterion": form.get("criterion", ""),
        "raise_event": form.get("raise_event") == "on",
        "send_email": form.get("send_email") == "on",
        "email_to": form.get("email_to", ""),
        "connectors": form.get("connectors", ""),
    }
    return Redirect("/triggers", notice=_said(set_trigger(call, data), "trigger point"))


@page("POST", "/triggers/remove", role="ADMIN", summary="Remove a trigger point")
def trigger_remove(call: Call) -> Redirect:
    change = remove_trigger(call, call.arg("event") or "", call.arg("criterion") or "")
    return Redirect("/triggers", notice=change.describe())


# -- audit -----------------------------------------------------------------------------


@page("GET", "/audit", role="VIEWER", summary="The audit log")
def audit_page(call: Call) -> Page:
    found = audit_list(call)
    return Page("audit.html", {"title": "Audit log", **found})
