"""Which systems a caller may act for.

A user is bound, by code, to the source systems it imports orders for and reads, and to
the fulfillment systems it answers for (``omgw user add … --system CODE``); or it holds
an explicit grant of every system, present and future (``--all-systems``). A user bound
to nothing may call no operation that names a system. A refusal is decided from the
caller and what its request names, never from what is stored, so it tells nothing about
other systems' orders. Deciding only: no database, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.errors import AuthError

__all__ = ["SystemGrant", "forbidden", "require"]


@dataclass(frozen=True)
class SystemGrant:
    """The systems one user may act for."""

    systems: frozenset[str] = frozenset()
    all_systems: bool = False

    @classmethod
    def stored(cls, systems: str, all_systems: bool) -> SystemGrant:
        """From the ``users`` columns: codes separated by spaces, and the grant of all."""
        return cls(frozenset(systems.split()), bool(all_systems))

    @property
    def empty(self) -> bool:
        return not self.all_systems and not self.systems

    def allows(self, code: str) -> bool:
        return self.all_systems or code in self.systems

    def describe(self) -> str:
        if self.all_systems:
            return "every system"
        if not self.systems:
            return "no system"
        return ", ".join(sorted(self.systems))


def forbidden(
    grant: SystemGrant, username: str | None, codes: Iterable[str | None], verb: str, kind: str
) -> AuthError | None:
    """The refusal of a call by ``username`` that names ``codes`` (None: a system left
    out, which the operation reports itself), or None when the grant covers them all.

    ``verb`` and ``kind`` say what the call does with which kind of system, e.g.
    ``import orders for`` a ``source system``. A user bound to nothing is refused
    whatever the call names.
    """
    who = f"user {username!r}"
    if grant.empty:
        return AuthError(
            "AUTH_FORBIDDEN",
            f"{who} is bound to no system, so it may not {verb} any {kind}; nothing "
            f"was applied. An admin binds it with 'omgw user bind {username} --system CODE' "
            "(or --all-systems)",
        )
    for code in codes:
        if code is not None and not grant.allows(code):
            return AuthError(
                "AUTH_FORBIDDEN",
                f"{who} may not {verb} {kind} {code}: it is bound to {grant.describe()}; nothing "
                f"was applied. If it should, an admin runs "
                f"'omgw user bind {username} --system {code}'",
            )
    return None


def require(
    grant: SystemGrant, username: str | None, codes: Iterable[str | None], verb: str, kind: str
) -> None:
    """Raise :func:`forbidden`'s refusal, if any."""
    refusal = forbidden(grant, username, codes, verb, kind)
    if refusal is not None:
        raise refusal
