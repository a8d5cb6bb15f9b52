"""The simulated business-event subscriber (``omgw simulate subscriber``) over real HTTP.

Pushes are built with :func:`connectors.push_payload_writer.push_envelope`, as omgw sends them, and
POSTed with requests to a subscriber on 127.0.0.1. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import requests
import zeep
from click.testing import CliRunner
from lxml import etree
from zeep.wsse.username import UsernameToken

from connectors.push_payload import PUSH_ACTION, EventFulfillLine, EventHeader, EventLine
from connectors.push_payload_reader import parse_results
from connectors.push_payload_writer import push_envelope
from gateway.cli import cli
from simulators.subscriber import SubscriberOptions, running_subscriber
from tests.common.cli import help_options
from tests.common.processes import started
from tests.common.soap import basic, fault_parts

ROOT = Path(__file__).resolve().parents[2]
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
SECRET = "sub-Pa55word-4711"
WRONG = "not-the-Pa55word-0815"


# -- helpers --------------------------------------------------------------------------------


def status_update(order: str = "100001", order_id: int = 300100) -> EventHeader:
    return EventHeader(
        event_code="OrderHeaderStatusUpdate",
        source_order_system="LEGACY",
        source_order_id="S-1",
        source_order_number=f"SO-{order}",
        orchestration_order_number=order,
        orchestration_order_id=order_id,
        customer_id=1001,
        status_prior_value="OPEN",
        status_new_value="CLOSED",
    )


def jeopardy() -> EventHeader:
    """A JEOPARDY push: its EventCode is on the line, the header has no fields of its own."""
    fline = EventFulfillLine(fulfillment_order_line_id=21, jeopardy_priority="HIGH")
    line = EventLine(
        event_code="JEOPARDY", orchestration_order_line_id=11, fulfillment_lines=(fline,)
    )
    return EventHeader(event_code="JEOPARDY", lines=(line,))


def envelope(
    header: EventHeader,
    to: str,
    message_id: str | None = None,
    wsse: UsernameToken | None = None,
) -> bytes:
    body = push_envelope(header, message_id=message_id or f"urn:uuid:{uuid.uuid4()}", to=to)
    if wsse is None:
        return body
    env, _ = wsse.apply(etree.fromstring(body), {})
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))


def push(
    url: str,
    body: bytes,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> requests.Response:
    sent = {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{PUSH_ACTION}"',
        **(headers or {}),
    }
    return requests.post(url, data=body, headers=sent, timeout=timeout)


# -- recording --------------------------------------------------------------------------------


def test_a_valid_push_is_accepted_with_202_and_recorded():
    with running_subscriber() as sub:
        resp = push(sub.url, envelope(status_update("100001"), sub.url, "urn:uuid:m-1"))
        assert resp.status_code == 202
        assert resp.content == b""  # one-way: nothing but the status

        state = requests.get(sub.base + "/state", timeout=10).json()
        assert state["options"]["authentication"] is False
        assert (state["received"], state["duplicates"], state["invalid"]) == (1, 0, 0)
        assert state["counts"] == {"OrderHeaderStatusUpdate": 1}
        (event,) = state["events"]
        assert event["seq"] == 1
        assert event["message_id"] == "urn:uuid:m-1"
        assert event["event_code"] == "OrderHeaderStatusUpdate"
        assert event["orchestration_order_number"] == "100001"
        assert event["source_order_number"] == "SO-100001"
        assert event["received_at"].endswith("+00:00")
        assert "xml" not in event

        # ?xml=1 adds the results document, which reads back as what was sent
        (with_xml,) = requests.get(sub.base + "/state?xml=1", timeout=10).json()["events"]
        (header,) = parse_results(etree.fromstring(with_xml["xml"].encode()))
        assert header == status_update("100001")

        # JEOPARDY's code is on its line: the record still names it
        assert push(sub.url, envelope(jeopardy(), sub.url)).status_code == 202
        assert sub.state()["counts"] == {"OrderHeaderStatusUpdate": 1, "JEOPARDY": 1}
        assert sub.state()["events"][1]["event_code"] == "JEOPARDY"


def test_the_same_message_id_is_recorded_once():
    with running_subscriber() as sub:
        body = envelope(status_update(), sub.url, "urn:uuid:twice")
        assert [push(sub.url, body).status_code for _ in range(2)] == [202, 202]
        state = sub.state()
        assert (state["received"], state["duplicates"], state["pushes"]) == (1, 1, 2)
        (event,) = state["events"]
        assert event["times_received"] == 2
        assert state["counts"] == {"OrderHeaderStatusUpdate": 1}


def _abc_order_id(body: bytes) -> bytes:
    assert body.count(b">300100<") == 1
    return body.replace(b">300100<", b">abc<")


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (_abc_order_id, "BusinessEventsConnectorPayload.xsd"),
        (lambda _: b"this is not XML", "not well-formed XML"),
        (lambda _: b"", "not well-formed XML"),
        (lambda b: b.replace(b">pushPayload<", b">somethingElse<"), "unknown wsa:Action"),
    ],
    ids=["schema", "not-xml", "empty", "action"],
)
def test_an_invalid_push_is_a_client_fault_and_records_nothing(make, why):
    with running_subscriber() as sub:
        resp = push(sub.url, make(envelope(status_update(), sub.url)))
        code, text = fault_parts(resp)
        assert code == "soap:Client"
        assert why in text
        state = sub.state()
        assert (state["invalid"], state["received"], state["events"]) == (1, 0, [])
        assert state["last_invalid"] == text


def test_a_wrong_soap_action_header_is_refused():
    with running_subscriber() as sub:
        resp = push(sub.url, envelope(status_update(), sub.url), {"SOAPAction": '"process"'})
        assert "unknown SOAPAction" in fault_parts(resp)[1]
        # but none at all is fine: Oracle declares none (contract §5.2)
        resp = push(sub.url, envelope(status_update(), sub.url), {"SOAPAction": ""})
        assert resp.status_code == 202


def test_authentication_by_username_token_or_basic_never_echoes_a_password():
    with running_subscriber(username="om", password=SECRET) as sub:
        plain = envelope(status_update(), sub.url)
        refused = [
            push(sub.url, plain),
            push(sub.url, plain, basic("om", WRONG)),
            push(sub.url, plain, basic("intruder", SECRET)),
            push(sub.url, plain, {"Authorization": "Basic !!!"}),
            push(sub.url, envelope(status_update(), sub.url, wsse=UsernameToken("om", WRONG))),
            push(sub.url, envelope(status_update(), sub.url, wsse=UsernameToken("x", SECRET))),
            # OM sends PasswordText: a digest is not what it was told to expect
            push(
                sub.url,
                envelope(
                    status_update(), sub.url, wsse=UsernameToken("om", SECRET, use_digest=True)
                ),
            ),
            push(sub.url, b"not XML, so no token"),
        ]
        for resp in refused:
            code, text = fault_parts(resp)
            assert code == "soap:Client"
            assert text.startswith("FailedAuthentication")
            assert SECRET not in resp.text and WRONG not in resp.text
        state = sub.state()
        assert (state["refused"], state["invalid"], state["events"]) == (len(refused), 0, [])
        assert "password" not in state["options"]
        assert SECRET not in requests.get(sub.base + "/state", timeout=10).text

        token = envelope(status_update("1"), sub.url, wsse=UsernameToken("om", SECRET))
        accepted = [
            push(sub.url, token),
            push(sub.url, envelope(status_update("2"), sub.url), basic("om", SECRET)),
        ]
        assert [r.status_code for r in accepted] == [202, 202]
        assert [e["orchestration_order_number"] for e in sub.state()["events"]] == ["1", "2"]


# -- injected failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "status", "code", "text"),
    [
        ("fault_rate", 500, "soap:Server", "simulated fault"),
        ("client_fault_rate", 500, "soap:Client", "payload refused"),
        ("failure_rate", 503, None, None),
    ],
)
def test_injected_failures_record_nothing(rate, status, code, text):
    with running_subscriber(**{rate: 1.0}) as sub:
        resp = push(sub.url, envelope(status_update(), sub.url, "urn:uuid:f-1"))
        assert resp.status_code == status
        if code is None:
            assert not resp.content.lstrip().startswith(b"<")  # no SOAP body
        else:
            assert fault_parts(resp)[0] == code
            assert text in fault_parts(resp)[1]
        state = sub.state()
        assert (state["failed"], state["received"], state["events"]) == (1, 0, [])

        # the same push, redelivered once the subscriber recovers, is recorded
        sub.control(**{rate: 0.0})
        assert push(sub.url, envelope(status_update(), sub.url, "urn:uuid:f-1")).status_code == 202
        assert (sub.state()["received"], sub.state()["duplicates"]) == (1, 0)


def test_injected_failures_follow_the_seed():
    def statuses(seed: int) -> list[int]:
        options = SubscriberOptions(seed=seed, failure_rate=0.3, fault_rate=0.3)
        with running_subscriber(options) as sub:
            return [
                push(sub.url, envelope(status_update(), sub.url)).status_code for _ in range(12)
            ]

    first = statuses(7)
    assert statuses(7) == first
    assert set(first) == {202, 500, 503}
    assert statuses(8) != first


def test_a_subscriber_that_is_down_answers_503_until_it_is_up():
    with running_subscriber(down=True) as sub:
        body = envelope(status_update(), sub.url)
        resp = push(sub.url, body)
        assert resp.status_code == 503
        assert sub.state()["events"] == []

        up = requests.post(sub.base + "/control", json={"down": False}, timeout=10)
        assert up.status_code == 200
        assert up.json()["down"] is False
        assert push(sub.url, body).status_code == 202
        assert sub.state()["received"] == 1


def test_a_slow_subscriber_answers_after_its_delay():
    with running_subscriber(delay=0.3) as sub:
        began = time.monotonic()
        assert push(sub.url, envelope(status_update(), sub.url)).status_code == 202
        assert time.monotonic() - began >= 0.3


# -- record_dir, control, WSDL ------------------------------------------------------------------


def test_record_dir_holds_each_recorded_payload(tmp_path):
    where = tmp_path / "events" / "today"  # made on start
    with running_subscriber(record_dir=where) as sub:
        first = envelope(status_update("../A B/7"), sub.url, "urn:uuid:r-1")
        assert push(sub.url, first).status_code == 202
        assert push(sub.url, first).status_code == 202  # a duplicate writes nothing
        assert push(sub.url, envelope(jeopardy(), sub.url)).status_code == 202
        with_xml = sub.state(xml=True)

    files = sorted(p.name for p in where.iterdir())
    assert files == ["00001-OrderHeaderStatusUpdate-A_B_7.xml", "00002-JEOPARDY-none.xml"]
    assert [e["file"] for e in with_xml["events"]] == files
    for name, event in zip(files, with_xml["events"], strict=True):
        content = (where / name).read_bytes()
        assert content == event["xml"].encode()
    (header,) = parse_results(etree.fromstring((where / files[0]).read_bytes()))
    assert header == status_update("../A B/7")
    assert with_xml["options"]["record_dir"] == str(where)


def test_control_changes_options_and_refuses_nonsense():
    with running_subscriber() as sub:
        url = sub.base + "/control"
        changed = requests.post(url, json={"fault_rate": 0.25, "delay": 0.5}, timeout=10)
        assert changed.status_code == 200
        assert (changed.json()["fault_rate"], changed.json()["delay"]) == (0.25, 0.5)
        assert sub.simulator.options.delay == 0.5

        for bad in (
            {"no_such_option": 1},
            {"seed": 3},  # not changeable at run time
            {"password": "x"},
            {"record_dir": "/tmp"},
            {"failure_rate": 2},
            {"delay": -1},
            {"down": "yes"},
            [1, 2],
        ):
            resp = requests.post(url, json=bad, timeout=10)
            assert resp.status_code == 400, bad
            assert resp.json()["error"], bad
        assert "no_such_option" in requests.post(url, json={"no_such_option": 1}, timeout=10).text
        assert requests.post(url, data=b"{not json", timeout=10).status_code == 400
        assert sub.state()["options"]["fault_rate"] == 0.25  # the refusals changed nothing
        assert requests.get(sub.base + "/nowhere", timeout=10).status_code == 404
        assert requests.put(sub.url, data=b"", timeout=10).status_code == 405


@pytest.mark.parametrize(
    "bad",
    [
        {"fault_rate": 1.5},
        {"client_fault_rate": -0.1},
        {"failure_rate": True},
        {"down": 1},
        {"delay": 3601},
        {"seed": 1.5},
        {"username": "om"},
        {"password": SECRET},
    ],
)
def test_options_are_checked(bad):
    with pytest.raises(ValueError) as caught:
        SubscriberOptions(**bad)
    assert SECRET not in str(caught.value)


def test_the_served_wsdl_names_the_url_asked_for_and_zeep_can_push_through_it():
    with running_subscriber() as sub:
        resp = requests.get(sub.url + "?wsdl", timeout=10)
        assert resp.status_code == 200
        assert resp.headers["Content-Type"].startswith("text/xml")
        doc = etree.fromstring(resp.content)
        assert {a.get("location") for a in doc.iter(f"{{{WSDL_SOAP}}}address")} == {sub.url}

        # a client that knows only the URL: the WSDL, the schema beside it, a one-way push
        client = zeep.Client(sub.wsdl_url)
        header = {"EventCode": "OrderHeaderStatusUpdate", "SourceOrderNumber": "SO-9"}
        assert client.service.pushPayload(OrderHeader=[header]) is None
        (event,) = sub.state()["events"]
        assert (event["event_code"], event["source_order_number"]) == (
            "OrderHeaderStatusUpdate",
            "SO-9",
        )


# -- the command line ------------------------------------------------------------------------


def test_cli_help_and_option_checks():
    runner = CliRunner()
    assert help_options("simulate", "subscriber") >= {
        "--host",
        "--port",
        "--fault-rate",
        "--client-fault-rate",
        "--failure-rate",
        "--down",
        "--delay",
        "--seed",
        "--username",
        "--password-env",
        "--password-file",
        "--record-events",
    }
    too_high = runner.invoke(cli, ["simulate", "subscriber", "--fault-rate", "1.5"])
    assert too_high.exit_code == 2
    no_password = runner.invoke(cli, ["simulate", "subscriber", "--username", "om"])
    assert no_password.exit_code == 2
    assert "--password-env" in no_password.output
    plain = runner.invoke(cli, ["simulate", "subscriber", "--password", SECRET])
    assert plain.exit_code == 2  # no option takes a password as its value


def test_cli_serves_until_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMGW_")}
    env["SUB_PASSWORD"] = SECRET
    record = tmp_path / "pushed"
    args = [
        sys.executable, "-m", "gateway.cli", "simulate", "subscriber", "--port", "0",
        "--username", "om", "--password-env", "SUB_PASSWORD", "--record-events", str(record),
    ]  # fmt: skip
    with started(args, env, ready=r"event subscriber: (http://\S+)", cwd=ROOT) as sub:
        url = sub.url
        with urllib.request.urlopen(url + "?wsdl", timeout=10) as resp:
            assert resp.status == 200
        assert fault_parts(push(url, envelope(status_update(), url)))[1].startswith(
            "FailedAuthentication"
        )
        token = UsernameToken("om", SECRET)
        assert push(url, envelope(status_update("42"), url, wsse=token)).status_code == 202
        assert [p.name for p in record.iterdir()] == ["00001-OrderHeaderStatusUpdate-42.xml"]

        sub.proc.send_signal(signal.SIGTERM)
        assert sub.proc.wait(timeout=10) == 0
    output = sub.output.finish()
    assert f"event subscriber: {url}" in output
    assert f"WSDL: {url}?WSDL" in output
    assert "stopping" in output
    assert SECRET not in output
