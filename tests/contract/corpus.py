"""Raw SOAP requests built from the documented object lists (``gateway/contract``).

Every documented attribute gets a value of its type, distinct enough that a value
returned under the wrong name would be noticed; objects are written in the published
order or shuffled, with Oracle's prefixes (``soapenv``/``typ``/``ord``, as SoapUI
templates made from Oracle's WSDLs write them) or others, optionally under a
``wsse:Security mustUnderstand="1"`` header with a ``wsu:Timestamp``, as Oracle-era
clients send them. Nothing here is a copy of a client's payload: the values are ours.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.contract.model import Field, ObjectType, ServiceModel, load
from tests.common.soap import PASSWORD

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordText"
)
FLEX = "http://xmlns.oracle.com/apps/scm/doo/processOrder/flex/headerCategories/"
FLEX_CONTEXT = "http://xmlns.oracle.com/apps/scm/doo/processOrder/flex/headerContextsB/"
MODEL_NS = "http://xmlns.oracle.com/apps/scm/doo/processOrder/model/"

#: (envelope, types, data) prefixes: Oracle's SoapUI style, a JAX-WS style, others
PREFIXES = {
    "oracle": ("soapenv", "typ", "ord"),
    "jaxws": ("S", "ns1", "ns2"),
    "other": ("e", "t", "d"),
}


def _short(name: str, limit: int | None, seed: str) -> str:
    text = f"{seed}-{name}"
    if limit is not None and len(text) > limit:
        digits = re.sub(r"\D", "", seed) or "0"
        text = (name[: max(1, limit - len(digits) - 1)] + "-" + digits)[:limit]
    return text


def scalar(f: Field, seed: str, index: int) -> Any:
    """A value of ``f``'s type: its lexical text (a pair for a quantity or amount; an
    element for customer-defined content)."""
    n = index + 1
    if f.type == "string":
        return _short(f.name, f.length, seed)
    if f.type == "long":
        return str(300000000000000 + n * 1000 + len(f.name))
    if f.type == "int":
        return str(n * 10 + len(f.name) % 7)
    if f.type == "decimal":
        return f"{n}.{len(f.name) % 9 + 1}5"
    if f.type == "boolean":
        return "true" if n % 2 else "false"
    if f.type == "dateTime":
        return (datetime(2026, 12, 1, 8, 30, tzinfo=UTC) + timedelta(hours=n)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    if f.type == "date":
        return f"2026-12-{n % 27 + 1:02d}"
    if f.type == "MeasureType":
        return (f"{n}.5", "Ea")
    if f.type == "AmountType":
        return (f"{n * 10}.25", "USD")
    if f.type == "base64":
        return "SGVsbG8sIE9yYWNsZQ=="
    if f.type == "any":
        return flexfield(f"{seed}-{n}")
    raise AssertionError(f"no sample for {f.type}")


def flexfield(value: str) -> etree._Element:
    """An extensible flexfield as clients send one: typed by the customer's own
    ``xsi:type``, a Category, and a context holding a segment."""
    el = etree.Element(
        "eff", nsmap={"xsi": XSI, "flex": FLEX, "mod": MODEL_NS, "ctx": FLEX_CONTEXT}
    )
    el.set(f"{{{XSI}}}type", "flex:j_HeaderEffDooHeadersAddInfoprivate")
    etree.SubElement(el, f"{{{MODEL_NS}}}Category").text = "DOO_HEADERS_ADD_INFO"
    context = etree.SubElement(el, f"{{{FLEX_CONTEXT}}}HeaderEffBShippingInformationprivateVO")
    etree.SubElement(context, f"{{{FLEX_CONTEXT}}}ContextCode").text = "ShippingInformation"
    etree.SubElement(context, f"{{{FLEX_CONTEXT}}}dockDoor").text = value
    return el


def every_attribute(
    model: ServiceModel,
    obj: ObjectType,
    seed: str,
    fixed: Mapping[str, Any] | None = None,
    skip: frozenset[str] = frozenset(),
    depth: int = 0,
) -> dict[str, Any]:
    """A value for every attribute of ``obj`` (children: one each, two levels deep),
    with ``fixed`` values where the gateway acts on them."""
    fixed = fixed or {}
    values: dict[str, Any] = {}
    for index, f in enumerate(obj.fields):
        if f.name in skip:
            continue
        if f.name in fixed:
            values[f.name] = fixed[f.name]
        elif f.scalar:
            values[f.name] = scalar(f, seed, index)
        elif depth < 2:
            child = every_attribute(model, model[f.type], f"{seed}{index}", depth=depth + 1)
            values[f.name] = [child] if f.many else child
    return values


def render(
    model: ServiceModel,
    obj: ObjectType,
    values: Mapping[str, Any],
    tag: str,
    rng: random.Random | None = None,
) -> etree._Element:
    """``values`` as the element ``tag`` of type ``obj``; children in the published
    order, or shuffled by ``rng``."""
    el = etree.Element(tag)
    ns = obj.namespace
    fields = [f for f in obj.fields if f.name in values]
    if rng is not None:
        rng.shuffle(fields)
    for f in fields:
        raw = values[f.name]
        for value in raw if isinstance(raw, list) else [raw]:
            name = f"{{{ns}}}{f.name}"
            if f.scalar and f.type == "any":
                child = etree.SubElement(el, name, nsmap=value.nsmap)
                child.attrib.update(value.attrib)
                child.extend(etree.fromstring(etree.tostring(value)))
            elif f.scalar and isinstance(value, tuple):
                child = etree.SubElement(el, name)
                child.text = value[0]
                child.set("unitCode" if f.type == "MeasureType" else "currencyCode", value[1])
            elif f.scalar:
                etree.SubElement(el, name).text = value
            else:
                el.append(render(model, model[f.type], value, name, rng))
    return el


def security_header(user: str, password: str = PASSWORD) -> etree._Element:
    """The WS-Security header Oracle-era clients send: ``mustUnderstand="1"``, a
    ``wsu:Timestamp`` and a UsernameToken with ``PasswordText``."""
    now = datetime.now(UTC)
    sec = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    sec.set(f"{{{ENV}}}mustUnderstand", "1")
    stamp = etree.SubElement(sec, f"{{{WSU}}}Timestamp")
    etree.SubElement(stamp, f"{{{WSU}}}Created").text = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    etree.SubElement(stamp, f"{{{WSU}}}Expires").text = (now + timedelta(minutes=5)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    token = etree.SubElement(sec, f"{{{WSSE}}}UsernameToken")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = user
    pw = etree.SubElement(token, f"{{{WSSE}}}Password", Type=PASSWORD_TEXT)
    pw.text = password
    return sec


def envelope(
    service: str,
    operation: etree._Element,
    style: str = "oracle",
    header: etree._Element | None = None,
) -> bytes:
    """A SOAP 1.1 envelope around ``operation`` (its tags in the service's namespaces),
    with the prefixes of ``style``."""
    env_p, types_p, data_p = PREFIXES[style]
    data_ns = load(service).namespace
    nsmap = {env_p: ENV, types_p: data_ns + "types/", data_p: data_ns}
    env = etree.Element(f"{{{ENV}}}Envelope", nsmap=nsmap)
    head = etree.SubElement(env, f"{{{ENV}}}Header")
    if header is not None:
        head.append(header)
    etree.SubElement(env, f"{{{ENV}}}Body").append(operation)
    # re-parse so that every element takes the envelope's prefixes
    return etree.tostring(etree.fromstring(etree.tostring(env)), xml_declaration=True,
                          encoding="UTF-8")  # fmt: skip


def wrapper(service: str, operation: str, children: list[etree._Element]) -> etree._Element:
    el = etree.Element(f"{{{load(service).namespace}types/}}{operation}")
    el.extend(children)
    return el


def decimal_or_text(text: str | None) -> Any:
    try:
        return Decimal(text) if text is not None else None
    except ArithmeticError:
        return text
