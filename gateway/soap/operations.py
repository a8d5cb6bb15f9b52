"""Calling a service operation without spyne's object mapping (the hot path).

The front hands each POST's body element to the ``Operation`` of its name: the element is
checked against the validation schema spyne built from the same types (so a body spyne
would refuse is refused here, with the same ``SCHEMA_INVALID`` code), read into
arguments by a compiled ``Reader``, passed to the service's own function with the
:class:`~gateway.soap.call_context.Call` as its context, and the function's result
is written by a compiled ``Writer`` into the response envelope spyne would have sent.
spyne still publishes the WSDL; the service functions are the ones it publishes.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from lxml import etree
from spyne import Application, Fault

from gateway import namespaces as ns
from gateway.errors import EnvelopeError, GatewayError
from gateway.soap.call_context import Call
from gateway.soap.codec import XSI, XSI_NIL, XSI_TYPE, Reader, Writer, is_many, scalar_text
from gateway.soap.normalize import Normalizer

__all__ = ["ERROR_ATTRIBUTE", "Operation", "operations_of"]

log = logging.getLogger(__name__)

_ENV = "{%s}" % ns.SOAP11_ENV


#: Elements and attributes of a body small enough to check as a tree: its schema errors
#: cost at most this many sibling steps each.
_TREE_CHECK_NODES = 2_000
_NODES = etree.XPath("count(descendant-or-self::*) + count(descendant-or-self::*/@*)")

#: The attribute of a ``spyne.Fault`` raised by ``services.edge`` that holds its error.
ERROR_ATTRIBUTE = "omgw_error"


class Operation:
    """One operation of one service, compiled once per process."""

    def __init__(self, app: Application, descriptor: Any) -> None:
        self.name: str = descriptor.name
        self._schema: etree.XMLSchema = app.in_protocol.validation_schema
        self._reader = Reader(descriptor.in_message, app.in_protocol)
        self._normalizer = Normalizer(descriptor.in_message)
        self._arg_names = list(descriptor.in_message.get_flat_type_info(descriptor.in_message))
        self._function = descriptor.function
        out = descriptor.out_message
        self._types_ns: str = out.get_namespace()
        self._out_tag = "{%s}%s" % (self._types_ns, out.get_type_name())
        self._results = [
            _Result(name, t, self._types_ns, app.out_protocol)
            for name, t in out.get_flat_type_info(out).items()
        ]
        #: the WS-Addressing Action of the answer: Oracle writes service namespace, port
        #: type and operation (``…/commonService//OrderFulfillmentResponseService/…``)
        service_ns = self._types_ns.removesuffix("types/")
        self.answer_action = f"{service_ns}/{app.name}/{self.name}Response"

    def validate(self, body: etree._Element) -> None:
        """Read ``body`` as Oracle does (``soap.normalize``), then check it against the
        schema. Normalising first also bounds the schema's work: libxml2 reports every
        error of a document, each out-of-place element with the list of all the names
        its object expects, which for a large misordered body costs seconds."""
        self._normalizer.normalize(body)
        self.check(body)

    def check(self, body: etree._Element) -> None:
        """Check ``body``, as it is, against the schema; refuse it naming what is wrong.

        lxml records each schema error with the path of its element, found by walking
        the element's preceding siblings: on a large body with an error in each of many
        lines that is quadratic. So a small body is checked as a tree (its errors carry
        the caller's line numbers), and a large one as it is re-read by a validating
        parser, whose errors carry no path and stop being recorded after the first
        hundred: linear whatever the body holds."""
        if float(_NODES(body)) <= _TREE_CHECK_NODES:  # type: ignore[arg-type]
            if not self._schema.validate(body):
                error = self._schema.error_log.last_error  # type: ignore[attr-defined]
                message = " ".join(str(error.message if error else "invalid request").split())
                where = f"line {error.line}: " if error is not None and error.line else ""
                raise EnvelopeError("SCHEMA_INVALID", f"{where}{message}"[:1000])
            return
        # the body is our own serialisation of a parsed tree: no DTD, no entities
        parser = etree.XMLParser(
            schema=self._schema,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
        )
        try:
            etree.fromstring(etree.tostring(body), parser)
        except etree.XMLSyntaxError as exc:
            log = exc.error_log
            first = log.filter_from_errors()[0] if log else None  # type: ignore[attr-defined]
            message = " ".join(str(first.message if first else "invalid request").split())
            raise EnvelopeError("SCHEMA_INVALID", message[:1000]) from None

    def call(self, body: etree._Element, call: Call, relates_to: str | None = None) -> bytes:
        """The response envelope for ``body`` (normalised and validated), or raise a
        ``GatewayError``; ``relates_to`` is the request's WS-Addressing MessageID."""
        args = self.read(body)
        values = [getattr(args, name) for name in self._arg_names] if args is not None else []
        try:
            result = self._function(call, *values)
        except Fault as fault:
            error: GatewayError | None = getattr(fault, ERROR_ATTRIBUTE, None)
            if error is None:
                raise
            raise error from None
        return self.envelope(result, relates_to)

    def normalize(self, body: etree._Element) -> None:
        """Read the body as Oracle does: by name, in any order (``soap.normalize``)."""
        self._normalizer.normalize(body)

    def read(self, body: etree._Element) -> Any:
        """The arguments in ``body`` (normalised and validated); ``INVALID_VALUE`` for a
        value the schema allows and Python's types do not hold (``soap.codec``)."""
        return self._reader.read(body)

    def envelope(self, result: Any, relates_to: str | None = None) -> bytes:
        """The answer, with the prefixes of Oracle's: ``env:`` for SOAP, ``ns0:`` for the
        wrapper's types namespace and, on each result element, ``ns1:`` for the types
        namespace and ``ns0:`` for the data namespace, as real clients match them."""
        env = etree.Element(_ENV + "Envelope", nsmap={"env": ns.SOAP11_ENV})
        if relates_to is not None:
            _addressing(env, self.answer_action, relates_to)
        body = etree.SubElement(env, _ENV + "Body")
        wrapper = etree.SubElement(body, self._out_tag, nsmap={"ns0": self._types_ns})
        if len(self._results) == 1:
            self._results[0].write(wrapper, result)
        else:
            for part, value in zip(self._results, result or (), strict=False):
                part.write(wrapper, value)
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


class _Result:
    """One child of an answer's wrapper (``result``, ``Order``): element, type, writer."""

    def __init__(self, name: str, t: Any, types_ns: str, protocol: Any) -> None:
        from spyne.model.complex import ComplexModelBase

        self.tag = "{%s}%s" % (types_ns, getattr(t.Attributes, "sub_name", None) or name)
        self.many = is_many(t)
        self.complex = isinstance(t, type) and issubclass(t, ComplexModelBase)
        self.nillable = bool(t.Attributes.nillable) and (t.Attributes.min_occurs or 0) >= 1
        if self.complex:
            self.nsmap = {"ns1": types_ns, "ns0": t.get_namespace(), "xsi": XSI}
            self.xsi_type = f"ns0:{t.get_type_name()}"
            self.writer: Writer | None = Writer(t, protocol)
        else:
            self.writer = None
            self.convert = scalar_text(t, protocol)

    def write(self, wrapper: etree._Element, value: Any) -> None:
        items = list(value or ()) if self.many else [value]
        for item in items:
            if item is None:
                if self.nillable:
                    etree.SubElement(wrapper, self.tag).set(XSI_NIL, "true")
                continue
            if self.writer is None:
                etree.SubElement(wrapper, self.tag).text = self.convert(item)
                continue
            el = etree.SubElement(wrapper, self.tag, nsmap=self.nsmap)
            el.set(XSI_TYPE, self.xsi_type)
            self.writer.write(el, item)


def _addressing(env: etree._Element, action: str, relates_to: str) -> None:
    header = etree.SubElement(env, _ENV + "Header", nsmap={"wsa": ns.WSA})
    etree.SubElement(header, "{%s}Action" % ns.WSA).text = action
    etree.SubElement(header, "{%s}MessageID" % ns.WSA).text = f"urn:uuid:{uuid.uuid4()}"
    etree.SubElement(header, "{%s}RelatesTo" % ns.WSA).text = relates_to


def operations_of(app: Application) -> dict[str, Operation]:
    """Every public operation of a spyne application, compiled."""
    ops: dict[str, Operation] = {}
    for service in app.services:
        for descriptor in service.public_methods.values():
            try:
                ops[descriptor.name] = Operation(app, descriptor)
            except Exception:  # a type the codec does not know: spyne keeps that one
                log.exception("operation %s stays on spyne's mapping", descriptor.name)
    return ops
