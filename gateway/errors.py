"""The gateway's one exception tree. Every error a caller can see carries a stable code.

::

    GatewayError                      code, message, details, fault_kind
    ├── EnvelopeError                 the bytes are not a usable SOAP request
    │   │ (REQUEST_EMPTY, REQUEST_INVALID, REQUEST_TOO_LARGE, REQUEST_TIMEOUT,
    │   │  REQUEST_INCOMPLETE, XML_MALFORMED, XML_DTD_FORBIDDEN, XML_TOO_DEEP,
    │   │  XML_TOO_MANY_ELEMENTS, XML_TOO_MANY_NAMESPACES,
    │   │  XML_TOO_MANY_ATTRIBUTES, SOAP_ENVELOPE_INVALID, SOAP_HEADER_TOO_LARGE,
    │   │  SOAP_BODY_EMPTY, SOAP_BODY_INVALID, UNKNOWN_OPERATION, SCHEMA_INVALID)
    │   └── MustUnderstandError       SOAP_MUST_UNDERSTAND (faultcode MustUnderstand)
    ├── AuthError                     AUTH_REQUIRED, AUTH_FAILED, AUTH_EXPIRED,
    │                                 AUTH_TIMESTAMP_INVALID, AUTH_REPLAY, AUTH_FORBIDDEN,
    │                                 AUTH_LOCKED, AUTH_THROTTLED
    ├── ValidationError               a well-formed request with bad values
    │   (MISSING_KEY, INVALID_VALUE, DUPLICATE_LINE, QUANTITY_INVALID,
    │    TOO_MANY_ORDERS, ORDER_TOO_LARGE, REQUEST_TOO_MANY_LINES,
    │    QUANTITY_EXCEEDS_OPEN, UOM_MISMATCH, ITEM_MISMATCH, SOURCE_SYSTEM_NOT_ENABLED,
    │    XREF_MISSING, DRAFT_NOT_SUPPORTED, RETURN_REFERENCE_MISSING,
    │    RETURN_PRODUCT_MISMATCH; admin:
    │    SETUP_INVALID, RULES_INVALID, CONNECTOR_NOT_EVENT, ORDER_AMBIGUOUS)
    ├── NotFoundError                 ORDER_NOT_FOUND, LINE_NOT_FOUND,
    │                                 SOURCE_SYSTEM_UNKNOWN, REQUEST_NOT_FOUND,
    │                                 HOLD_NOT_FOUND, RETURN_REFERENCE_NOT_FOUND; admin:
    │                                 CONNECTOR_UNKNOWN, TASK_TYPE_UNKNOWN, PROCESS_UNKNOWN,
    │                                 WALLET_ENTRY_UNKNOWN, XREF_UNKNOWN, USER_UNKNOWN,
    │                                 RULE_UNKNOWN, RULE_SET_VERSION_UNKNOWN,
    │                                 TRIGGER_POINT_UNKNOWN, STAGED_NOT_FOUND
    ├── ConflictError                 admin: ALREADY_EXISTS, IN_USE, BUILT_IN,
    │                                 DRAFT_UNPUBLISHED
    ├── StateError                    out of order for the lifecycle
    │   (ILLEGAL_TRANSITION, LINE_NOT_AWAITING_TASK, RESPONSE_BEFORE_REQUEST,
    │    RESPONSE_AFTER_CLOSE, REVISION_STALE, REVISION_NOT_ALLOWED, ACK_CONFLICT,
    │    LINE_NOT_ASSIGNED, ORDER_SUPERSEDED, LINE_ON_HOLD, QUANTITY_BELOW_SHIPPED,
    │    CHANGE_IN_PROGRESS, ORDER_PARTLY_SHIPPED, LINE_CHANGE_NOT_ALLOWED,
    │    RETURN_EXCEEDS_SHIPPED, ORDER_CLOSED; admin: STAGED_NOT_IN_ERROR)
    ├── ResponseRejected              a fulfillment response applied nothing; its code is
    │                                 the first line error's, ``details`` holds them all
    │                                 (per line also GROUP_REJECTED)
    └── InternalError                 INTERNAL_ERROR: a bug or an outage; no details leak;
                                      DATABASE_BUSY: no write turn within 30 s (SQLite)

Codes are prefixed ``OMGW-`` on the wire (``ServiceErrorMessage/code``) and listed
in the README. They never change meaning once released.

The errors of the packages below, rooted at :class:`connectors.connector_errors.ConnectorError` and
:class:`routing.routing_errors.RoutingError`, become gateway errors in one place, :func:`translate`:

    RuleSetInvalid, other RoutingError   RULES_INVALID
    WalletError                          WALLET_ERROR
    SpecInvalid, other ConnectorError    INVALID_VALUE
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from connectors.connector_errors import ConnectorError, WalletError
from routing.routing_errors import RoutingError, RuleSetInvalid

__all__ = [
    "AuthError",
    "ConflictError",
    "EnvelopeError",
    "GatewayError",
    "InternalError",
    "LineError",
    "MustUnderstandError",
    "NotFoundError",
    "ResponseRejected",
    "StateError",
    "ValidationError",
    "did_you_mean",
    "translate",
    "wire_code",
]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``; did you mean 'X'?`` naming the known name closest to a mistyped ``name`` (case
    aside), for a NOT_FOUND message to end with; empty when none is close."""
    by_folded = {k.casefold(): k for k in known}
    close = difflib.get_close_matches(name.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean {by_folded[close[0]]!r}?" if close else ""


def wire_code(code: str) -> str:
    """The code as it appears in ``ServiceErrorMessage/code``."""
    return f"OMGW-{code}"


class GatewayError(Exception):
    """Base of every error the gateway reports to a caller.

    :param code: stable symbolic code (``QUANTITY_INVALID``), see the module docstring.
    :param message: a sentence a person can act on; never holds a secret.
    :param details: nested (code, message) pairs, e.g. one per rejected line.
    """

    #: ``Client`` when the caller must change the request, ``Server`` when we failed
    #: (``MustUnderstand`` for a header the caller insists on and omgw does not process).
    fault_kind = "Client"

    def __init__(self, code: str, message: str, details: Sequence[LineError] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = tuple(details)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class EnvelopeError(GatewayError):
    """The HTTP body is not a SOAP 1.1 request we can read."""


class MustUnderstandError(EnvelopeError):
    """A header entry marked ``mustUnderstand`` that omgw does not process: SOAP 1.1
    §4.2.3 answers it with the faultcode ``MustUnderstand``, not ``Client``."""

    fault_kind = "MustUnderstand"


class AuthError(GatewayError):
    """Missing, wrong, expired or replayed credentials, or a missing role."""


class ValidationError(GatewayError):
    """A readable request whose values are wrong."""


class NotFoundError(GatewayError):
    """A key that names nothing we know."""


class ConflictError(GatewayError):
    """An admin change that clashes with what exists: a duplicate, or a removal of
    something others still reference (the message names them)."""


class StateError(GatewayError):
    """A request that is out of order for the lifecycle (DESIGN §3)."""


class InternalError(GatewayError):
    """Our failure; the message carries a reference, never internals."""

    fault_kind = "Server"


@dataclass(frozen=True)
class LineError:
    """One problem with one line of a request, as reported to the caller."""

    code: str
    message: str
    fulfill_line_id: int | None = None
    severity: str = "ERROR"

    @classmethod
    def from_error(cls, err: GatewayError, fulfill_line_id: int | None) -> LineError:
        return cls(err.code, err.message, fulfill_line_id)


class ResponseRejected(GatewayError):  # noqa: N818 (reads as the outcome it is)
    """A whole fulfillment response was rejected; nothing of it was applied."""

    def __init__(self, errors: Sequence[LineError], option: str) -> None:
        first = errors[0]
        count = len(errors)
        summary = (
            f"Fulfillment response rejected under {option}; nothing was applied. "
            f"{count} error{'s' if count != 1 else ''}; first: {first.message}"
        )
        super().__init__(first.code, summary, errors)
        self.option = option


def translate(exc: ConnectorError | RoutingError, what: str = "") -> ValidationError:
    """The gateway error a connectors or routing error becomes when it reaches a caller:
    the one place their roots are mapped to codes.

    :param exc: the error, raised by :mod:`connectors` or :mod:`routing`.
    :param what: names what was refused, e.g. ``"connector"`` or ``"rules cannot be
        published"``; the message starts with it.

    A :class:`~routing.routing_errors.RuleSetInvalid` lists its problems one per line, so an
    admin sees every one; the others keep their own sentence.
    """
    if isinstance(exc, RuleSetInvalid):
        lines = "\n".join(f"  {p}" for p in exc.problems)
        return ValidationError("RULES_INVALID", f"{what}:\n{lines}")
    message = f"{what}: {exc}" if what else str(exc)
    if isinstance(exc, RoutingError):
        return ValidationError("RULES_INVALID", message)
    if isinstance(exc, WalletError):
        return ValidationError("WALLET_ERROR", message)
    return ValidationError("INVALID_VALUE", message)
