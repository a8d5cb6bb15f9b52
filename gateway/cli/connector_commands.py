"""``omgw connector add|list|show|update|remove``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from connectors.connector_specs import (
    AUTH_STYLES,
    INVOCATION_MODES,
    PROCESSING_OPTIONS,
    ConnectorSpec,
)
from gateway.cli.invocation import Context, pass_context
from gateway.cli.option_values import given, with_options
from gateway.cli.output import MASK, emit_changes, emit_record, emit_table, json_option
from gateway.registry.spec_building import build_spec
from gateway.registry.store import Registry

__all__ = ["connector"]


_options = with_options(
    click.option("--target-system", help="The source system this connector reaches."),
    click.option("--url", help="Endpoint URL (http or https)."),
    click.option("--description"),
    click.option("--credential-map", help="Wallet credential map (oracle.wsm.security)."),
    click.option("--credential-key", help="Wallet key of the credentials to send."),
    click.option("--no-credential", is_flag=True, help="Send no credentials."),
    click.option("--auth", type=click.Choice(AUTH_STYLES)),
    click.option("--invocation-mode", type=click.Choice(INVOCATION_MODES)),
    click.option("--response-processing", type=click.Choice(PROCESSING_OPTIONS)),
    click.option("--send-attachments/--no-send-attachments", default=None),
    click.option("--timeout", type=float, help="Seconds per call (default 30)."),
    click.option("--retry-max-attempts", type=int),
    click.option("--retry-base-delay", type=float, help="Seconds."),
    click.option("--retry-max-delay", type=float, help="Seconds."),
    click.option("--tls-verify/--no-tls-verify", default=None),
    click.option("--ca-bundle", help="PEM file of trusted CAs."),
    click.option("--client-certificate", help="Wallet key holding a client certificate."),
    click.option("--enabled/--disabled", default=None),
)


def _absolute(path: str | None) -> str | None:
    """A CA bundle given on the command line is taken from the working directory."""
    return str(Path(path).expanduser().resolve()) if path else path


def _merge(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    retry = given(
        {"retry_max_attempts": "max_attempts", "retry_base_delay": "base_delay",
         "retry_max_delay": "max_delay"},
        retry_max_attempts=values.pop("retry_max_attempts"),
        retry_base_delay=values.pop("retry_base_delay"),
        retry_max_delay=values.pop("retry_max_delay"),
    )  # fmt: skip
    tls = given(
        {"tls_verify": "verify"},
        tls_verify=values.pop("tls_verify"),
        ca_bundle=_absolute(values.pop("ca_bundle")),
        client_certificate=values.pop("client_certificate"),
    )
    no_credential = values.pop("no_credential")
    data = {**base, **given(**values)}
    if no_credential:
        data.pop("credential_key", None)
    data["retry"] = {**base.get("retry", {}), **retry}
    data["tls"] = {**base.get("tls", {}), **tls}
    return data


@click.group(help="Endpoints of target systems: URL, credentials, invocation mode, retries.")
def connector() -> None:
    pass


@connector.command("add", help="Register a connector.")
@click.argument("name")
@_options
@json_option
@pass_context
def add(ctx: Context, name: str, as_json: bool, **values: Any) -> None:
    spec = build_spec("connector", _merge({"name": name}, values), ConnectorSpec.from_mapping)
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).put_connector(spec, mode="create")
    emit_changes([change], as_json)


@connector.command("update", help="Change the given settings of a connector.")
@click.argument("name")
@_options
@json_option
@pass_context
def update(ctx: Context, name: str, as_json: bool, **values: Any) -> None:
    with ctx.transaction() as (_rt, s):
        registry = Registry(s, ctx.actor)
        base = registry.require_connector(name).to_mapping()
        spec = build_spec("connector", _merge(base, values), ConnectorSpec.from_mapping)
        change = registry.put_connector(spec, mode="update")
    emit_changes([change], as_json)


@connector.command("list", help="List connectors.")
@click.option("--target-system", help="Only this target system's connectors.")
@json_option
@pass_context
def list_(ctx: Context, target_system: str | None, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        registry = Registry(s)
        specs = registry.connectors_for(target_system) if target_system else registry.connectors()
    rows = [c.to_mapping() for c in specs]
    emit_table(
        rows,
        [
            ("name", "NAME"),
            ("target_system", "TARGET"),
            ("invocation_mode", "MODE"),
            ("response_processing", "RESPONSES"),
            ("credential_key", "CREDENTIAL"),
            ("enabled", "ENABLED"),
            ("url", "URL"),
        ],
        as_json,
    )


@connector.command("show", help="Show a connector (its credential by reference, masked).")
@click.argument("name")
@json_option
@pass_context
def show(ctx: Context, name: str, as_json: bool) -> None:
    with ctx.reading() as (_rt, s):
        record = Registry(s).require_connector(name).to_mapping()
    if record.get("credential_key"):
        record["credential"] = {"username": MASK, "password": MASK}
    emit_record(record, as_json)


@connector.command("remove", help="Remove a connector that carried no requests.")
@click.argument("name")
@json_option
@pass_context
def remove(ctx: Context, name: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = Registry(s, ctx.actor).remove_connector(name)
    emit_changes([change], as_json)
