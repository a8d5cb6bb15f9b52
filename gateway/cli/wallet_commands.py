"""``omgw wallet set|list|show|remove|verify|rotate-key``.

Passwords come from a hidden prompt or standard input, never from the command line
(argv is visible to every user of the machine through ``ps``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from connectors.connector_errors import WalletError
from connectors.secret_box import Credential, KeyFile, Keyring, SecretBox
from gateway.cli.invocation import Context, pass_context
from gateway.cli.output import MASK, emit_changes, emit_record, emit_table, json_option
from gateway.registry.wallet_store import EntryInfo, Wallet

__all__ = ["wallet"]


def _row(info: EntryInfo) -> dict[str, object]:
    return {
        "credential_map": info.credential_map,
        "key": info.key,
        "username": info.username,
        "password": MASK,
        "client_certificate": info.has_client_certificate,
        "key_version": info.key_version,
        "updated_at": info.updated_at.isoformat(timespec="seconds"),
    }


@click.group(help="Encrypted credentials that connectors name by (credential map, key).")
def wallet() -> None:
    pass


@wallet.command("set", help="Create or replace an entry. MAP is usually oracle.wsm.security.")
@click.argument("credential_map", metavar="MAP")
@click.argument("key")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--client-certificate",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM client certificate for mutual TLS (with --client-key).",
)
@click.option("--client-key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_context
def set_(
    ctx: Context,
    credential_map: str,
    key: str,
    username: str,
    password_stdin: bool,
    client_certificate: Path | None,
    client_key: Path | None,
    as_json: bool,
) -> None:
    if bool(client_certificate) != bool(client_key):
        raise click.UsageError("--client-certificate and --client-key go together")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("the password is empty")
    credential = Credential(
        username,
        password,
        client_certificate.read_text() if client_certificate else None,
        client_key.read_text() if client_key else None,
    )
    with ctx.transaction() as (runtime, s):
        change = Wallet(s, lambda: runtime.secret_box, ctx.actor).set(
            credential_map, key, credential
        )
    emit_changes([change], as_json)


@wallet.command(
    "list",
    help="List entries with their usernames; passwords are masked. USERNAME is '-' where "
    "an entry does not open with this key ('omgw wallet verify' says why).",
)
@click.option("--map", "credential_map", help="Only this credential map.")
@json_option
@pass_context
def list_(ctx: Context, credential_map: str | None, as_json: bool) -> None:
    with ctx.reading() as (runtime, s):
        wallet = Wallet(s, lambda: runtime.secret_box, ctx.actor)
        infos = wallet.entries(credential_map, username=True)
    emit_table(
        [_row(i) for i in infos],
        [
            ("credential_map", "MAP"),
            ("key", "KEY"),
            ("username", "USERNAME"),
            ("password", "PASSWORD"),
            ("client_certificate", "CERT"),
            ("key_version", "KEY VERSION"),
            ("updated_at", "UPDATED"),
        ],
        as_json,
    )


@wallet.command("show", help="Show an entry, its username and who uses it; the password is masked.")
@click.argument("credential_map", metavar="MAP")
@click.argument("key")
@json_option
@pass_context
def show(ctx: Context, credential_map: str, key: str, as_json: bool) -> None:
    from gateway.registry.store import Registry

    with ctx.reading() as (runtime, s):
        wallet = Wallet(s, lambda: runtime.secret_box, ctx.actor)
        record = _row(wallet.info(credential_map, key, username=True))
        record["used_by"] = Registry(s).wallet_referrers(credential_map, key)
    emit_record(record, as_json)


@wallet.command("remove", help="Remove an entry no connector uses.")
@click.argument("credential_map", metavar="MAP")
@click.argument("key")
@json_option
@pass_context
def remove(ctx: Context, credential_map: str, key: str, as_json: bool) -> None:
    with ctx.transaction() as (_rt, s):
        change = Wallet(s, actor=ctx.actor).remove(credential_map, key)
    emit_changes([change], as_json)


@wallet.command("verify", help="Decrypt every entry and user secret; report any that fails.")
@pass_context
def verify(ctx: Context) -> None:
    with ctx.reading() as (runtime, s):
        results = Wallet(s, lambda: runtime.secret_box, ctx.actor).verify()
    failed = 0
    for name, problem in results:
        click.echo(f"{name}: {'ok' if problem is None else problem}")
        failed += problem is not None
    if failed:
        raise click.ClickException(f"{failed} of {len(results)} secrets do not open")
    click.echo(f"all {len(results)} secrets open")


@wallet.command("rotate-key", help="Re-encrypt every secret under a new master key.")
@pass_context
def rotate_key(ctx: Context) -> None:
    """With a key file: a new key goes to ``wallet.key.next`` and seals from then on;
    every secret is re-sealed in one transaction; then the new key replaces the key file.
    Interrupted at any point, both keys still open everything and a rerun completes.

    With ``OMGW_WALLET_KEY``: put the new key first (``v<N>:<key>,<old key>``) wherever
    omgw runs, run this to re-seal everything under it, then drop the old key.
    """
    settings = ctx.settings
    with ctx.runtime() as runtime:
        key_file = None
        if settings.wallet_key_b64:
            keyring = Keyring.from_text(settings.wallet_key_b64)
            new = keyring.current
            if keyring.versions == [new.version]:
                raise click.UsageError(
                    "OMGW_WALLET_KEY holds one key. Set it to 'v<N>:<new key>,<current key>' "
                    "(new first, N above the current version) wherever omgw runs, then rerun"
                )
        else:
            key_file = KeyFile(settings.key_file)
            new = key_file.begin_rotation()
            keyring = key_file.load()
        try:
            with runtime.sessions() as s, s.begin():
                count = Wallet(s, SecretBox(keyring), ctx.actor).rotate(new)
        except WalletError as exc:
            pending = ""
            if key_file is not None:
                pending = (
                    f" A rotation to key version {new.version} is pending in "
                    f"{key_file.next_path}: keep that file (it seals new secrets from now on), "
                    "fix what is named above (omgw wallet set/remove, "
                    "omgw user add --replace) and run rotate-key again."
                )
            raise click.ClickException(
                f"rotation stopped, nothing was re-encrypted: {exc}.{pending}"
            ) from None
        if key_file is not None:
            key_file.finish_rotation(new)
            click.echo(f"rotated to key version {new.version}: {count} secret(s) re-encrypted")
        else:
            click.echo(
                f"re-encrypted {count} secret(s) under key version {new.version}; now drop the "
                "older keys from OMGW_WALLET_KEY"
            )
