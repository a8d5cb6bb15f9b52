"""No secret in any log record, whoever logs it, at any level.

Libraries log what they see: spyne's WSGI server every HTTP header of a call at DEBUG
(``Add http header 'authorization' = ['Basic …']``), zeep each envelope it posts
(UsernameToken passwords included), SQLAlchemy SQL parameters and rows (password hashes)
at INFO and DEBUG. omgw cannot change what they log, and a filter on today's handlers
would miss a handler attached later (gunicorn's, a test's). So :func:`install` wraps the
process's ``LogRecord`` factory: every record, from any logger, is redacted as it is
made, before any handler sees it. The ``gateway`` package installs it when first
imported; forked workers inherit it.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

__all__ = ["MASK", "first_line", "install", "redact_text"]

MASK = "***"

# Every pattern starts at a literal ("<", a keyword, a scheme) and every repetition that
# can fail is bounded, so a record of n characters is redacted in O(n) whatever it holds
# (a caller's input may reach a record).
_WORDS = r"password|passwd|pwd|passphrase|secret|token|nonce|credential|api[_-]?key"

#: an HTTP credential after its scheme: ``Basic dXNlcjpwYXNz``, ``Bearer eyJ…``
_AUTH_SCHEME = re.compile(
    r"\b(Basic|Bearer|Digest|Negotiate|NTLM)(\s{1,10})[A-Za-z0-9+/=._~-]{6,}", re.IGNORECASE
)
#: the text of an XML element whose name says it holds a secret: ``<wsse:Password …>x<``,
#: ``<Nonce>``, ``<BinarySecurityToken>``, ``<clientSecret>``
_XML_SECRET = re.compile(
    rf"(<(?:[\w.-]{{1,60}}:)?([\w.-]{{0,60}}(?:{_WORDS})[\w.-]{{0,60}})(?:\s[^<>]{{0,2000}})?(?<!/)>)"
    r"([^<]+)(</(?:[\w.-]{1,60}:)?\2\s*>)",
    re.IGNORECASE,
)
#: ``password=x``, ``"secret": "x"``, ``api_key='x'``, ``clientSecret="x"`` (an XML attribute)
_KEY_VALUE = re.compile(
    r"(password|passwd|pwd|passphrase|secret|api[_-]?key|token)([\w.-]{0,30}?)"
    r"([\"']?\s{0,10}[:=]\s{0,10})"
    r"(\"[^\"]{0,2000}\"?|'[^']{0,2000}'?|[^\s,;&\"'<>)\]}]{1,2000})",
    re.IGNORECASE,
)
#: a stored password hash (``gateway.security.passwords``), as SQL parameters and rows show it
_PASSWORD_HASH = re.compile(r"\bscrypt\$[0-9$]{1,40}[A-Za-z0-9+/=]{1,200}\$[A-Za-z0-9+/=]{1,200}")
#: the password of a URL: ``https://user:secret@host``
_URL_USERINFO = re.compile(
    r"\b([a-z][a-z0-9+.-]{0,30}://[^/\s:@]{1,200}:)[^@\s/]{1,200}@", re.IGNORECASE
)


def redact_text(text: str) -> str:
    """``text`` with every credential it visibly holds replaced by :data:`MASK`."""
    text = _AUTH_SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _XML_SECRET.sub(lambda m: f"{m[1]}{MASK}{m[4]}", text)
    text = _KEY_VALUE.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{_quoted_mask(m[4])}", text)
    text = _PASSWORD_HASH.sub(f"scrypt${MASK}", text)
    return _URL_USERINFO.sub(lambda m: f"{m[1]}{MASK}@", text)


def first_line(exc: BaseException, width: int = 200) -> str:
    """An error's first line (its type when it says nothing), cut to ``width``, with
    anything that looks like a credential masked: for an answer or a terminal."""
    return redact_text((str(exc).strip().splitlines() or [type(exc).__name__])[0][:width])


def _quoted_mask(value: str) -> str:
    return f"{value[0]}{MASK}{value[0]}" if value[:1] in ("'", '"') else MASK


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when it emits
        return
    clean = redact_text(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # a Formatter uses exc_text when set, instead of formatting the exception again
        text = "".join(traceback.format_exception(*record.exc_info))
        record.exc_text = redact_text(text.removesuffix("\n"))
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)


def install() -> None:
    """Redact every log record of this process as it is made (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "omgw_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    factory.omgw_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
