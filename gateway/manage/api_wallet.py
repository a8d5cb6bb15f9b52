"""The wallet: entries listed by (credential map, key) with their username and who uses
them; a credential set or its password rotated. A password (and a client key) is
write-only: taken in a body or form, sealed, and never answered, logged, put in an error
or in the audit log."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from connectors.connector_errors import WalletError
from connectors.connector_specs import DEFAULT_CREDENTIAL_MAP
from connectors.secret_box import Credential
from gateway.errors import ValidationError, translate
from gateway.manage.web_routes import Call, api
from gateway.persistence.audit_trail import Change
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet

__all__ = ["remove_entry", "rotate_entry", "set_entry", "wallet_list"]

_SECRET = {"type": "string", "format": "password", "writeOnly": True}
_SET_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["key", "username", "password"],
    "properties": {
        "credential_map": {"type": "string", "default": DEFAULT_CREDENTIAL_MAP},
        "key": {"type": "string"},
        "username": {"type": "string"},
        "password": _SECRET,
        "client_certificate": {"type": "string", "description": "PEM (with client_key)"},
        "client_key": {**_SECRET, "description": "PEM (with client_certificate)"},
    },
}
_ROTATE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["password"],
    "properties": {"password": _SECRET},
}


@contextmanager
def _wallet(call: Call) -> Iterator[Wallet]:
    """A wallet in one write transaction; its errors (a wrong key, a certificate and key
    that do not belong together) said in words that never hold a secret."""
    try:
        with call.writing() as s:
            yield Wallet(s, lambda: call.runtime.secret_box, call.actor)
    except WalletError as exc:
        raise translate(exc) from None


def _text(data: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ValidationError("INVALID_VALUE", f"give the {name.replace('_', ' ')}")
        return None
    if not isinstance(value, str):
        raise ValidationError("INVALID_VALUE", f"the {name.replace('_', ' ')} must be text")
    return value


def wallet_list(call: Call) -> list[dict[str, Any]]:
    with call.reading() as s:
        wallet = Wallet(s, lambda: call.runtime.secret_box, call.actor)
        registry = Registry(s)
        return [
            {
                "credential_map": i.credential_map,
                "key": i.key,
                "username": i.username,
                "client_certificate": i.has_client_certificate,
                "key_version": i.key_version,
                "updated_at": i.updated_at.isoformat(timespec="seconds"),
                "used_by": registry.wallet_referrers(i.credential_map, i.key),
            }
            for i in wallet.entries(username=True)
        ]


def set_entry(call: Call, data: Mapping[str, Any]) -> Change | None:
    """Create or replace an entry (omgw wallet set)."""
    credential_map = _text(data, "credential_map", required=False) or DEFAULT_CREDENTIAL_MAP
    key = _text(data, "key")
    username = _text(data, "username")
    password = _text(data, "password")
    certificate = _text(data, "client_certificate", required=False)
    client_key = _text(data, "client_key", required=False)
    if bool(certificate) != bool(client_key):
        raise ValidationError("INVALID_VALUE", "a client certificate and its key go together")
    assert key is not None and username is not None and password is not None
    with _wallet(call) as wallet:
        return wallet.set(
            credential_map.strip(),
            key.strip(),
            Credential(username.strip(), password, certificate, client_key),
        )


def rotate_entry(
    call: Call, credential_map: str, key: str, data: Mapping[str, Any]
) -> Change | None:
    """Give an entry a new password; its username and certificate stay. None when it is
    the password already (said as "no change", which tells no more than that)."""
    password = _text(data, "password")
    assert password is not None
    with _wallet(call) as wallet:
        return wallet.replace_password(credential_map, key, password)


def remove_entry(call: Call, credential_map: str, key: str) -> Change:
    with _wallet(call) as wallet:
        return wallet.remove(credential_map, key)


@api(
    "GET",
    "/wallet",
    role="VIEWER",
    tag="setup",
    summary="Wallet entries: map, key, username, who uses them, when set (never a password)",
)
def wallet_get(call: Call) -> dict[str, Any]:
    return {"entries": wallet_list(call)}


@api(
    "POST",
    "/wallet",
    role="ADMIN",
    tag="setup",
    summary="Create or replace an entry (omgw wallet set); the password is write-only",
    body=_SET_BODY,
)
def wallet_post(call: Call) -> dict[str, Any]:
    change = set_entry(call, call.body())
    return {"changes": [] if change is None else [change.to_json()]}


@api(
    "POST",
    "/wallet/<credential_map>/<key>/rotate",
    role="ADMIN",
    tag="setup",
    summary="Rotate an entry's password, keeping its username and certificate",
    body=_ROTATE_BODY,
)
def wallet_rotate(call: Call, credential_map: str, key: str) -> dict[str, Any]:
    change = rotate_entry(call, credential_map, key, call.body())
    return {"changes": [] if change is None else [change.to_json()]}


@api(
    "DELETE",
    "/wallet/<credential_map>/<key>",
    role="ADMIN",
    tag="setup",
    summary="Remove an entry no connector uses (omgw wallet remove)",
)
def wallet_delete(call: Call, credential_map: str, key: str) -> dict[str, Any]:
    return {"changes": [remove_entry(call, credential_map, key).to_json()]}
