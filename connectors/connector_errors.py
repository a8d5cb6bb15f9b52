"""The connectors' one exception tree: every error this package raises derives from
:class:`ConnectorError`, so gateway can translate the whole family in one place.

::

    ConnectorError                  a connector spec, secret or message omgw cannot use
    ├── SpecInvalid                 a spec that could not be built; ``problems`` lists
    │                               every :class:`Problem` (also a ValueError)
    ├── WalletError                 a key that is missing, malformed or wrong, or a
    │                               sealed value that was tampered with
    ├── AnswerInvalidError          a synchronous answer that is not a valid ``headerTR``
    │                               (also a ValueError)
    └── PayloadInvalidError         a push that is not a valid ``pushPayload``
                                    (also a ValueError)

The classes are re-exported by the modules that raise them (:mod:`connectors.spec_reader`,
:mod:`connectors.secret_box`, :mod:`connectors.outbound`,
:mod:`connectors.push_payload_reader`), so callers import them from either place. The
errors that were ValueErrors stay ValueErrors, because callers catch them as such beside
other bad input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AnswerInvalidError",
    "ConnectorError",
    "PayloadInvalidError",
    "Problem",
    "SpecInvalid",
    "WalletError",
]


class ConnectorError(Exception):
    """Base of every error the connectors raise."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field. ``path`` names the field inside its item."""

    path: tuple[str | int, ...]
    message: str

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path)
        return f"{where}: {self.message}" if where else self.message


class SpecInvalid(ConnectorError, ValueError):  # noqa: N818 (reads as the outcome it is)
    """A spec could not be built; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


class WalletError(ConnectorError):
    """A key that is missing, malformed or wrong, or a sealed value that was tampered with."""


class AnswerInvalidError(ConnectorError, ValueError):
    """The answer is not a ``headerTR`` that HeaderTR.xsd accepts."""


class PayloadInvalidError(ConnectorError, ValueError):
    """A push that is not a SOAP 1.1 ``pushPayload`` whose ``results`` the XSD accepts."""
