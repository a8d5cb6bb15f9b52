"""The hostile-input suite: each shape of request known to cost a gateway time, or to
slip past SOAP's rules, gets its fault code, within one second of CPU.

Every case is sent to the gateway's WSGI front in this process, at the production body
limit (10 MiB), and timed by the CPU of the thread that handles it (``thread_time``:
other processes on a loaded machine do not count, the front's own work all does:
parsing, checking, authenticating, normalising, validating, logging). At the end of the
module the table ``case -> OMGW-code, ms CPU`` is printed. Limits are also checked at
exactly their value (accepted: answered by the next check) and one above (refused);
the order and line limits over HTTP, on SQLite and PostgreSQL, where a refusal must
store nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from zeep.exceptions import Fault

from gateway.config import Settings
from gateway.errors import ValidationError
from gateway.server import build_app
from tests.common.hostile import (
    DECLARED,
    ENV,
    SHAPES,
    attributes,
    declarations,
    envelope,
    largest,
    response,
)
from tests.common.malformed import RAW_CASES
from tests.common.orders import order, shipped
from tests.common.orders import response as fr
from tests.common.soap import basic, call_front, client, fault_code, post, zeep_fault_code
from tests.common.state import snapshot, unchanged
from tests.conftest import Gateway, make_settings, seeded, serving

# about database behaviour: runs on SQLite and on PostgreSQL
pytestmark = pytest.mark.both_databases

BODY_LIMIT = next(f.default for f in fields(Settings) if f.name == "max_body_bytes")
CPU_BUDGET = 1.0
OFRS = "OrderFulfillmentResponseService"
OIS = "OrderInformationService"


@dataclass(frozen=True)
class Answer:
    status: str
    body: bytes
    cpu: float

    @property
    def code(self) -> str | None:
        return fault_code(self.body) if self.body.lstrip().startswith(b"<") else None


Call = Callable[[str, bytes], Answer]


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Call]:
    """The gateway's WSGI front at the production body limit, called in this thread."""
    home = tmp_path_factory.mktemp("hostile")
    settings = make_settings(home, f"sqlite:///{home / 'omgw.db'}", max_body_bytes=BODY_LIMIT)
    assert settings.max_body_bytes == 10 * 1024 * 1024
    with seeded(settings) as runtime:
        app = build_app(runtime)
        authorization = basic("all")["Authorization"]

        def call(service: str, body: bytes) -> Answer:
            started = time.thread_time()
            status, out = call_front(app, service, body, authorization)
            return Answer(status, out, time.thread_time() - started)

        call(OIS, b"-")  # the first check of a password runs scrypt; later ones are cached
        yield call


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Iterator[list[tuple[str, str, float]]]:
    """Collects ``(case, code, CPU seconds)``; printed as a table after the module."""
    rows: list[tuple[str, str, float]] = []
    yield rows
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not rows:
        return
    width = max(len(case) for case, _code, _cpu in rows)
    table = [
        "",
        f"hostile input, each answered in-process ({len(rows)} cases):",
        f"{'case':<{width}}  {'fault code':<32} {'CPU ms':>7}",
        *(f"{case:<{width}}  {code:<32} {cpu * 1000:>7.0f}" for case, code, cpu in rows),
    ]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for text in table:
            reporter.write_line(text)


def _inquiry(header: str = "", root: str = "", body_extra: str = "") -> bytes:
    return envelope(
        "<oit:GetOrderDetails><oit:Order><ois:OrderNumber>NO-SUCH</ois:OrderNumber>"
        f"</oit:Order></oit:GetOrderDetails>{body_extra}",
        header=header,
        root=root,
    )


def _header(entries: str) -> str:
    return f"<soapenv:Header>{entries}</soapenv:Header>"


def _entries(count: int) -> str:
    """A header entry holding ``count`` elements in all (itself included)."""
    return '<x:h xmlns:x="urn:x">' + "<x:a/>" * (count - 1) + "</x:h>"


def _unknown(flag: str, actor: str = "") -> str:
    return _header(f'<x:Session xmlns:x="urn:x" soapenv:mustUnderstand="{flag}"{actor}/>')


#: case -> (service, body, expected code); small bodies
PROTOCOL_CASES: dict[str, tuple[str, bytes, str]] = {
    **{name: (OFRS, body, code.removeprefix("OMGW-")) for name, (body, code) in RAW_CASES.items()},
    "two Bodies": (
        OIS,
        _inquiry(body_extra="</soapenv:Body><soapenv:Body><oit:GetOrderDetails/>"),
        "SOAP_ENVELOPE_INVALID",
    ),
    "two Headers": (OIS, _inquiry(header=_header("") + _header("")), "SOAP_ENVELOPE_INVALID"),
    "an element after the Body": (
        OIS,
        _inquiry().replace(b"</soapenv:Envelope>", b"<x:y xmlns:x='urn:x'/></soapenv:Envelope>"),
        "SOAP_ENVELOPE_INVALID",
    ),
    "Header after the Body": (
        OIS,
        _inquiry().replace(b"</soapenv:Envelope>", _header("").encode() + b"</soapenv:Envelope>"),
        "SOAP_ENVELOPE_INVALID",
    ),
    'unknown header, mustUnderstand="1"': (OIS, _inquiry(_unknown("1")), "SOAP_MUST_UNDERSTAND"),
    'unknown header, mustUnderstand="true"': (
        OIS,
        _inquiry(_unknown("true")),
        "SOAP_MUST_UNDERSTAND",
    ),
    'unknown header, mustUnderstand="yes"': (
        OIS,
        _inquiry(_unknown("yes")),
        "SOAP_ENVELOPE_INVALID",
    ),
    'unknown header, mustUnderstand="0"': (OIS, _inquiry(_unknown("0")), "ORDER_NOT_FOUND"),
    "unknown header for another actor": (
        OIS,
        _inquiry(_unknown("1", ' soapenv:actor="urn:some-other-node"')),
        "ORDER_NOT_FOUND",
    ),
    "unknown header for the next actor": (
        OIS,
        _inquiry(_unknown("1", ' soapenv:actor="http://schemas.xmlsoap.org/soap/actor/next"')),
        "SOAP_MUST_UNDERSTAND",
    ),
    "wsa:Action and wsa:To, mustUnderstand": (
        OIS,
        _inquiry(
            _header(
                '<wsa:Action xmlns:wsa="http://www.w3.org/2005/08/addressing" '
                'soapenv:mustUnderstand="1">urn:GetOrderDetails</wsa:Action>'
                '<wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing" '
                'soapenv:mustUnderstand="1">http://omgw/</wsa:To>'
            )
        ),
        "ORDER_NOT_FOUND",
    ),
    "256 namespaces in scope": (
        OIS,
        _inquiry(root=declarations(256 - DECLARED)),
        "ORDER_NOT_FOUND",
    ),
    "257 namespaces in scope": (
        OIS,
        _inquiry(root=declarations(257 - DECLARED)),
        "XML_TOO_MANY_NAMESPACES",
    ),
    "257 namespaces in scope, over 3 levels": (
        OIS,
        _inquiry(
            header=_header(
                f'<x:h xmlns:x="urn:x"{declarations(100, "a")}>'
                f"<x:i{declarations(100 + (257 - DECLARED - 201), 'b')}/></x:h>"
            )
        ),
        "XML_TOO_MANY_NAMESPACES",
    ),
    "64 attributes on a header entry": (
        OIS,
        _inquiry(_header(f'<x:h xmlns:x="urn:x" {attributes(64)}/>')),
        "ORDER_NOT_FOUND",
    ),
    "65 attributes on a header entry": (
        OIS,
        _inquiry(_header(f'<x:h xmlns:x="urn:x" {attributes(65)}/>')),
        "XML_TOO_MANY_ATTRIBUTES",
    ),
    "an undeclared attribute in the body": (
        OIS,
        _inquiry().replace(b"<oit:Order>", b"<oit:Order priority='1'>"),
        "SCHEMA_INVALID",
    ),
    "1,000 elements in the Header": (OIS, _inquiry(_header(_entries(1_000))), "ORDER_NOT_FOUND"),
    "1,001 elements in the Header": (
        OIS,
        _inquiry(_header(_entries(1_001))),
        "SOAP_HEADER_TOO_LARGE",
    ),
}

#: shape -> expected code, each body as large as the production limit allows
SHAPE_CODES = {
    "xmlns on the Envelope": "XML_TOO_MANY_NAMESPACES",
    "exactly 100,000 xmlns, on the Envelope": "XML_TOO_MANY_NAMESPACES",
    "exactly 100,000 xmlns, one per element": "SCHEMA_INVALID",
    "100,001 xmlns, one per element": "XML_TOO_MANY_NAMESPACES",
    "xmlns on the operation": "XML_TOO_MANY_NAMESPACES",
    "xmlns one per element": "XML_TOO_MANY_NAMESPACES",
    "attributes on one element": "XML_TOO_MANY_ATTRIBUTES",
    "64 attributes on each line": "XML_TOO_MANY_ATTRIBUTES",
    "64 attributes on each of 4,687 lines (299,968 attributes)": "SCHEMA_INVALID",
    "exactly 300,000 attributes, two per element": "SCHEMA_INVALID",
    "300,001 attributes, two per element": "XML_TOO_MANY_ATTRIBUTES",
    "nesting 60 deep in flexfields, as many as the element limit allows": "LINE_NOT_FOUND",
    "nesting 60 deep in flexfields": "XML_TOO_MANY_ELEMENTS",
    "elements in the Header": "XML_TOO_MANY_ELEMENTS",
    "long text in the Header": "MISSING_KEY",
    "1,000 mustUnderstand header entries": "SOAP_MUST_UNDERSTAND",
    "lines of an order": "ORDER_TOO_LARGE",
    "orders of one line": "TOO_MANY_ORDERS",
    "inquiries": "XML_TOO_MANY_ELEMENTS",
    "response lines, 2 type errors each": "REQUEST_TOO_MANY_LINES",
    "10,000 response lines, 2 type errors each": "SCHEMA_INVALID",
    "long text": "XML_MALFORMED",
    "long text, under the parser's limit": "SCHEMA_INVALID",
    "small unknown elements": "XML_TOO_MANY_ELEMENTS",
    "exactly 300,000 elements, small unknown ones": "SCHEMA_INVALID",
    "300,001 elements, small unknown ones": "XML_TOO_MANY_ELEMENTS",
    "small elements under another root": "SOAP_ENVELOPE_INVALID",
    "small empty known elements": "XML_TOO_MANY_ELEMENTS",
    "exactly 300,000 elements, small empty known ones": "MISSING_KEY",
}


def test_every_shape_has_an_expected_code() -> None:
    assert set(SHAPE_CODES) == set(SHAPES)


def _answered(
    call: Call, report: list[tuple[str, str, float]], case: str, service: str, body: bytes
) -> Answer:
    assert len(body) <= BODY_LIMIT
    answer = call(service, body)
    report.append((case, str(answer.code), answer.cpu))
    return answer


@pytest.mark.parametrize("case", list(PROTOCOL_CASES))
def test_protocol_and_limit_cases(front: Call, report: list[Any], case: str) -> None:
    service, body, code = PROTOCOL_CASES[case]
    answer = _answered(front, report, case, service, body)
    assert answer.code == f"OMGW-{code}", answer.body[:600]
    assert answer.cpu < CPU_BUDGET


@pytest.mark.parametrize("shape", list(SHAPE_CODES))
def test_the_largest_hostile_bodies_are_answered_within_a_second_of_cpu(
    front: Call, report: list[Any], shape: str
) -> None:
    service, build = SHAPES[shape]
    _n, body = largest(build, BODY_LIMIT)
    answer = _answered(front, report, f"{shape} ({len(body) / 2**20:.1f} MiB)", service, body)
    assert answer.code == f"OMGW-{SHAPE_CODES[shape]}", answer.body[:600]
    assert answer.cpu < CPU_BUDGET, f"{shape}: {answer.cpu:.2f} s of CPU"


def test_must_understand_fault_is_soap_11s(front: Call) -> None:
    """SOAP 1.1 §4.2.3: the faultcode is MustUnderstand in the envelope's namespace; the
    detail is ours, as for every fault."""
    answer = front(OIS, _inquiry(_unknown("1")))
    assert answer.status.startswith("500")
    root = etree.fromstring(answer.body)
    fault = root.find(f".//{{{ENV}}}Fault")
    assert fault is not None
    faultcode = fault.findtext("faultcode")
    assert faultcode is not None
    prefix, _, local = faultcode.partition(":")
    assert (fault.nsmap.get(prefix), local) == (ENV, "MustUnderstand")
    assert "Session (urn:x)" in (fault.findtext("faultstring") or "")
    assert fault_code(answer.body) == "OMGW-SOAP_MUST_UNDERSTAND"


def test_a_valid_large_response_is_checked_against_the_schema(front: Call) -> None:
    """A body checked by the validating re-read accepts what the tree check accepts: 3,000
    valid lines pass the schema and reach the service, which knows none of them."""
    lines = "".join(
        "<typ:fulfillLineList><com:FulfillLineIdentifier>"
        f"{900_000 + i}</com:FulfillLineIdentifier>"
        '<com:ShippedQuantity unitCode="Ea">1</com:ShippedQuantity></typ:fulfillLineList>'
        for i in range(3_000)
    )
    answer = front(OFRS, envelope(response(lines)))
    assert answer.code == "OMGW-LINE_NOT_FOUND", answer.body[:600]


@pytest.fixture
def small_limits(fresh_database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    """A gateway whose order and line limits are small enough to reach in a test."""
    settings = make_settings(
        tmp_path / "home",
        fresh_database_url,
        max_orders_per_request=3,
        max_lines_per_order=3,
        max_lines_per_request=5,
    )
    with serving(settings) as running:
        yield running


def _refused(gateway: Gateway, call: Callable[[], Any], code: str) -> str:
    before = snapshot(gateway.runtime)
    with pytest.raises(Fault) as exc:
        call()
    assert zeep_fault_code(exc.value) == f"OMGW-{code}", exc.value.message
    unchanged(gateway.runtime, before)
    return str(exc.value.message)


def test_orders_and_lines_at_their_limits_and_one_above(small_limits: Gateway) -> None:
    imports = client(small_limits.base, "OrderImportService")

    def create(*orders: dict[str, Any]) -> Callable[[], Any]:
        return lambda: imports.service.createOrders(request={"Order": list(orders)})

    def lines(count: int) -> list[tuple[str, str | int]]:
        return [(f"P{i}", 1) for i in range(count)]

    message = _refused(small_limits, create(order("BIG", lines(4))), "ORDER_TOO_LARGE")
    assert "4 lines" in message and "at most 3" in message
    _refused(
        small_limits,
        create(*(order(f"M{i}", lines(2)) for i in range(3))),
        "REQUEST_TOO_MANY_LINES",
    )
    _refused(small_limits, create(*(order(f"N{i}", lines(1)) for i in range(4))), "TOO_MANY_ORDERS")
    stage = client(small_limits.base, "OrderImportService").service.stageOrders
    _refused(
        small_limits, lambda: stage(request={"Order": [order("S", lines(4))]}), "ORDER_TOO_LARGE"
    )

    # at every limit at once: 3 orders, 5 lines, 3 in one order
    created = create(order("A", lines(3)), order("B", lines(1)), order("C", lines(1)))()
    assert [len(o.OrderImportResponseLine) for o in created] == [3, 1, 1]
    (d,) = create(order("D", lines(2)))()
    a, b = created[0], created[1]

    info = client(small_limits.base, "OrderInformationService")

    def inquire(*numbers: str) -> Callable[[], Any]:
        return lambda: info.service.GetOrderDetails(Order=[{"OrderNumber": n} for n in numbers])

    assert len(inquire(a.OrderNumber, d.OrderNumber)()) == 2  # 5 lines: the limit
    message = _refused(
        small_limits,
        inquire(a.OrderNumber, b.OrderNumber, d.OrderNumber),
        "REQUEST_TOO_MANY_LINES",
    )
    assert "6 lines" in message
    _refused(small_limits, inquire(*(a.OrderNumber for _ in range(4))), "TOO_MANY_ORDERS")


def test_fulfillment_response_lines_at_their_limit_and_one_above(small_limits: Gateway) -> None:
    ofrs = client(small_limits.base, "OrderFulfillmentResponseService")
    at_limit = [shipped(999_000 + i) for i in range(5)]
    _refused(
        small_limits,
        lambda: ofrs.service.processFulfillmentResponse(**fr("R1", at_limit)),
        "LINE_NOT_FOUND",  # 5 lines pass the limit; none of them exists
    )
    _refused(
        small_limits,
        lambda: ofrs.service.processFulfillmentResponse(**fr("R2", [*at_limit, shipped(999_100)])),
        "REQUEST_TOO_MANY_LINES",
    )


def test_the_limits_are_settings(tmp_path: Path) -> None:
    env = {
        "OMGW_HOME": str(tmp_path),
        "OMGW_MAX_ELEMENTS": "1000",
        "OMGW_MAX_XMLNS": "50",
        "OMGW_MAX_XMLNS_IN_SCOPE": "20",
        "OMGW_MAX_ATTRIBUTES": "8",
        "OMGW_MAX_ATTRIBUTES_TOTAL": "40",
        "OMGW_MAX_HEADER_ELEMENTS": "30",
        "OMGW_MAX_ORDERS_PER_REQUEST": "2",
        "OMGW_MAX_LINES_PER_ORDER": "7",
        "OMGW_MAX_LINES_PER_REQUEST": "9",
    }
    settings = Settings.from_env(env)
    assert (
        settings.max_elements,
        settings.max_xmlns,
        settings.max_xmlns_in_scope,
        settings.max_attributes,
        settings.max_attributes_total,
        settings.max_header_elements,
        settings.max_orders_per_request,
        settings.max_lines_per_order,
        settings.max_lines_per_request,
    ) == (1000, 50, 20, 8, 40, 30, 2, 7, 9)
    assert Settings.from_env(settings.to_env()) == settings
    defaults = Settings.from_env({"OMGW_HOME": str(tmp_path)})
    assert (
        defaults.max_xmlns_in_scope,
        defaults.max_attributes_total,
        defaults.max_lines_per_order,
    ) == (256, 300_000, 10_000)
    for bad in ("0", "-1", "many"):
        with pytest.raises(ValidationError) as exc:
            Settings.from_env({**env, "OMGW_MAX_LINES_PER_ORDER": bad})
        assert "OMGW_MAX_LINES_PER_ORDER" in exc.value.message


@pytest.mark.parametrize(
    "case",
    [
        'unknown header, mustUnderstand="1"',
        "two Bodies",
        "257 namespaces in scope",
        "65 attributes on a header entry",
        "1,001 elements in the Header",
        'unknown header, mustUnderstand="0"',
    ],
)
def test_the_same_answers_over_http(gateway: Gateway, case: str) -> None:
    service, body, code = PROTOCOL_CASES[case]
    answer = post(gateway.url(service), body, basic("inquirer"))
    assert fault_code(answer.body) == f"OMGW-{code}"
    faultcode = etree.fromstring(answer.body).findtext(f".//{{{ENV}}}Fault/faultcode")
    expected = "MustUnderstand" if code == "SOAP_MUST_UNDERSTAND" else "Client"
    assert (answer.status, faultcode) == (500, f"env:{expected}")
