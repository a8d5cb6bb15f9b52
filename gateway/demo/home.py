"""The demo's home and setup: what ``omgw demo`` writes before any order flows.

It runs only in a home it set up itself (:func:`check_demo_home`), makes the master key
when there is none, gives the user the simulators call back as a fresh password each run
(:func:`ensure_callback_user`) and applies the bundled ``gateway/setup/demo.toml`` with
this run's wallet passwords and simulator URLs (:func:`apply_demo_setup`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from connectors.secret_box import Credential, KeyFile, MasterKey
from gateway.config import Settings
from gateway.errors import ValidationError
from gateway.persistence.models import User, WalletEntry
from gateway.registry.setup_file import apply_setup
from gateway.registry.setup_reading import load_setup
from gateway.registry.store import Registry
from gateway.registry.wallet_store import Wallet, seal_user_secret
from gateway.runtime import Runtime
from gateway.security.passwords import hash_password
from gateway.security.roles import ROLES

__all__ = [
    "DEMO_ALERTS",
    "DEMO_MARK",
    "DEMO_SETUP",
    "DEMO_USER",
    "SUBSCRIBER",
    "WAREHOUSES",
    "apply_demo_setup",
    "check_demo_home",
    "ensure_callback_user",
    "ensure_key",
]

DEMO_SETUP = Path(__file__).resolve().parent.parent / "setup" / "demo.toml"
#: the user the demo imports as and the simulators call back as
DEMO_USER = "omgw-demo-callback"
_WALLET_MAP = "oracle.wsm.security"
#: (wallet key, connector, simulator system, simulator user)
WAREHOUSES = (
    ("DEMO_WMS01_KEY", "WMS01_Async", "WMS01", "wms01"),
    ("DEMO_WMS02_KEY", "WMS02_Sync", "WMS02", "wms02"),
)
#: the event subscriber's (wallet key, connector, user)
SUBSCRIBER = ("DEMO_CRM_KEY", "CRM_Events", "crm")
#: where the demo's alerts are mailed (to its simulated mail server)
DEMO_ALERTS = "ops@example.com"
#: the file the demo leaves in a home it set up: only such a home is set up again
DEMO_MARK = "demo-home"


def check_demo_home(settings: Settings) -> None:
    """Refuse a home holding a setup the demo did not make: the demo adds its connectors
    and publishes its routing over whatever is there."""
    if (settings.home / DEMO_MARK).exists():
        return
    own_file = settings.database_url == f"sqlite:///{settings.home / 'omgw.db'}"
    if own_file and not (settings.home / "omgw.db").exists():
        return  # a new home
    where = "its database" if own_file else "the database OMGW_DATABASE_URL names"
    raise ValidationError(
        "INVALID_VALUE",
        f"OMGW_HOME {settings.home} holds a setup the demo did not make ({where}); the demo "
        "adds its connectors and publishes its routing over it. Run it in a home of its own "
        "(make demo uses .omgw-demo, or DEMO_HOME=<dir>), with OMGW_DATABASE_URL unset",
    )


def ensure_key(settings: Settings) -> None:
    """Make the master key file, unless there is a key already."""
    if not settings.wallet_key_b64 and not settings.key_file.exists():
        KeyFile(settings.key_file).create(MasterKey.generate())


def ensure_callback_user(runtime: Runtime, password: str) -> None:
    """The user the simulators call back as, with a fresh password for this run."""
    with runtime.sessions() as s, s.begin():
        user = s.scalar(select(User).where(User.username == DEMO_USER))
        if user is None:
            user = User(username=DEMO_USER, roles=" ".join(ROLES), password_hash="")
            s.add(user)
        # it imports for the capture system and calls back as both warehouses
        user.systems = " ".join(sorted(("LEGACY", *(w[2] for w in WAREHOUSES))))
        user.all_systems = False
        user.password_hash = hash_password(password)
        user.digest_secret = seal_user_secret(s, lambda: runtime.secret_box, DEMO_USER, password)


def apply_demo_setup(runtime: Runtime, urls: dict[str, str], passwords: dict[str, str]) -> None:
    """Wallet entries first (the setup refers to them), then the setup, then the
    connectors pointed at this run's simulators."""
    with runtime.sessions() as s, s.begin():
        wallet = Wallet(s, lambda: runtime.secret_box, "omgw-demo")
        for key, _conn, _system, user in WAREHOUSES:
            wallet.set(_WALLET_MAP, key, Credential(user, passwords[key]))
        key, _conn, user = SUBSCRIBER
        wallet.set(_WALLET_MAP, key, Credential(user, passwords[key]))
        registry = Registry(s, "omgw-demo")
        doc = load_setup(
            DEMO_SETUP.read_text(encoding="utf-8"),
            str(DEMO_SETUP),
            known_systems={x.code for x in registry.source_systems()},
            known_wallet=set(s.execute(select(WalletEntry.credential_map, WalletEntry.key))),
            known_task_types={t.code: t for t in registry.task_types()},
            known_connectors={c.name: c.enabled for c in registry.connectors()},
            base_dir=DEMO_SETUP.parent,
        )
        apply_setup(s, lambda: runtime.secret_box, "omgw-demo", doc, DEMO_SETUP.parent)
        for name in urls:
            spec = registry.require_connector(name)
            registry.put_connector(replace(spec, url=urls[name]))
