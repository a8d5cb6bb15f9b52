from __future__ import annotations

import base64
import hashlib

import pytest
from lxml import etree

from gateway.errors import AuthError, EnvelopeError, LineError, ResponseRejected
from gateway.security.tokens import (
    PASSWORD_DIGEST,
    UsernameToken,
    digest_matches,
    parse_basic,
    parse_security_header,
    redact,
)
from gateway.soap.envelope import XmlLimits, parse_envelope
from gateway.soap.faults import fault_envelope, read_fault_code

ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def test_envelope_yields_operation_and_message_id():
    env = parse_envelope(
        f'<e:Envelope xmlns:e="{ENV}"><e:Header><a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">'
        'urn:1</a:MessageID></e:Header><e:Body><t:op xmlns:t="urn:t"/></e:Body></e:Envelope>'.encode()
    )
    assert (env.operation.namespace, env.operation.localname) == ("urn:t", "op")
    assert env.message_id == "urn:1"


def test_doctype_is_refused_before_parsing_even_without_entities():
    with pytest.raises(EnvelopeError) as exc:
        parse_envelope(b'<!DOCTYPE x><e:Envelope xmlns:e="' + ENV.encode() + b'"/>')
    assert exc.value.code == "XML_DTD_FORBIDDEN"


def _with_attributes(count: int, text: str = "") -> bytes:
    items = "".join(f"<i a='{i}'/>" for i in range(count))
    return (
        f'<e:Envelope xmlns:e="{ENV}"><e:Body><op>{items}<t>{text}</t></op></e:Body></e:Envelope>'
    ).encode()


@pytest.mark.parametrize("chunks", [1, 40])
def test_attributes_in_the_whole_request_are_counted_at_their_limit_and_one_above(chunks):
    """Counted on the tree as it is built, whether the attributes arrive in the first
    chunk the parser is fed or spread over many; ``=`` in text is not an attribute."""
    limit = 2_000
    limits = XmlLimits(attributes_total=limit)
    filler = "x" * (64 * 1024 * chunks)  # pushes the closing tags into later chunks
    at_limit = _with_attributes(limit, text="=" * 5_000 + filler)
    assert parse_envelope(at_limit, limits).operation.localname == "op"
    with pytest.raises(EnvelopeError) as exc:
        parse_envelope(_with_attributes(limit + 1, text=filler), limits)
    assert exc.value.code == "XML_TOO_MANY_ATTRIBUTES"
    assert f"more than {limit} attributes" in exc.value.message


def test_too_many_attributes_are_refused_before_the_whole_body_is_parsed():
    """The count runs as the parser goes: a body whose first 64 KiB already hold too
    many attributes is refused though the rest of it is not even well-formed."""
    body = _with_attributes(5_000).replace(b"</e:Envelope>", b"<" * 200_000)
    with pytest.raises(EnvelopeError) as exc:
        parse_envelope(body, XmlLimits(attributes_total=1_000))
    assert exc.value.code == "XML_TOO_MANY_ATTRIBUTES"


def test_comments_before_the_envelope_are_fine():
    env = parse_envelope(
        f'<!-- hi --><e:Envelope xmlns:e="{ENV}"><e:Body><op/></e:Body></e:Envelope>'.encode()
    )
    assert env.operation.localname == "op"


def test_digest_verification_follows_the_profile():
    nonce, created = b"0123456789abcdef", "2026-01-01T00:00:00Z"
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + b"pw").digest()).decode()
    token = UsernameToken("u", digest, PASSWORD_DIGEST, nonce, created)
    assert digest_matches(token, "pw")
    assert not digest_matches(token, "other")
    assert not digest_matches(UsernameToken("u", digest, PASSWORD_DIGEST, None, created), "pw")


def test_basic_header_parsing():
    creds = parse_basic("Basic " + base64.b64encode(b"u:p:w").decode())
    assert (creds.username, creds.password) == ("u", "p:w")
    assert "p:w" not in repr(creds)
    assert parse_basic("Bearer x") is None
    with pytest.raises(AuthError):
        parse_basic("Basic !!!")


def test_redaction_blanks_passwords_and_nonces():
    header = etree.fromstring(
        '<h xmlns:w="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        "<w:Security><w:UsernameToken><w:Username>u</w:Username><w:Password>SECRET</w:Password>"
        "<w:Nonce>Tk9OQ0VWQUxVRQ==</w:Nonce></w:UsernameToken></w:Security></h>"
    )
    token, _ = parse_security_header(header)
    assert token.password == "SECRET" and "SECRET" not in repr(token)
    redact(header)
    text = etree.tostring(header).decode()
    assert "SECRET" not in text and "Tk9OQ0VWQUxVRQ" not in text and "<w:Username>u<" in text


def test_fault_envelope_carries_code_and_line_details():
    err = ResponseRejected(
        [LineError("LINE_NOT_FOUND", "no line 7", 7), LineError("QUANTITY_INVALID", "zero", 8)],
        "REJECT_ALL_ON_ANY_ERROR",
    )
    body = fault_envelope(err)
    code, faultcode, faultstring = read_fault_code(body)
    assert code == "OMGW-LINE_NOT_FOUND"
    assert faultcode == "env:Client"
    assert "2 errors" in faultstring and "nothing was applied" in faultstring
    assert body.count(b"<tns:detail>") == 2


def test_redaction_blanks_every_element_and_attribute_named_for_a_secret():
    header = etree.fromstring(
        '<h xmlns:x="urn:any"><x:apiToken>T1</x:apiToken><x:Login clientSecret="S1" user="u"/>'
        "<x:SessionToken><x:Value>V1</x:Value><x:Username>kept</x:Username></x:SessionToken>"
        "<x:Passwd><!-- c --></x:Passwd><x:Other>plain</x:Other>"
        '<x:Credentials><x:Pwd>P1</x:Pwd></x:Credentials><x:Call x:apiKey="K1"/></h>'
    )
    redact(header)
    text = etree.tostring(header).decode()
    assert not any(s in text for s in ("T1", "S1", "V1", "<!--", "P1", "K1"))
    assert "<x:Username>kept<" in text and "<x:Other>plain<" in text and 'user="u"' in text
