"""Calling a service operation without spyne's object mapping (the hot path).

The front hands each POST's body element to the ``Operation`` of its name: the element is
checked against the validation schema spyne built from the same types (so a body spyne
would refuse is refused here, with the same ``SCHEMA_INVALID`` code), read into
arguments by a compiled ``Reader``, passed to the service's own function with a context
that carries what the services use (``ctx.transport.req_env``), and the function's result
is written by a compiled ``Writer`` into the response envelope spyne would have sent.
spyne still publishes the WSDL; the service functions are the ones it publishes.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from lxml import etree
from spyne import Application, Fault

from gateway import namespaces as ns
from gateway.errors import EnvelopeError, GatewayError
from gateway.soap.codec import XSI, Reader, Writer

__all__ = ["ERROR_ATTRIBUTE", "Operation", "operations_of"]

log = logging.getLogger(__name__)

_ENV = "{%s}" % ns.SOAP11_ENV


#: The attribute of a ``spyne.Fault`` raised by ``services.edge`` that holds its error.
ERROR_ATTRIBUTE = "omgw_error"


class Operation:
    """One operation of one service, compiled once per process."""

    def __init__(self, app: Application, descriptor: Any) -> None:
        self.name: str = descriptor.name
        self._schema: etree.XMLSchema = app.in_protocol.validation_schema
        self._reader = Reader(descriptor.in_message, app.in_protocol)
        self._arg_names = list(descriptor.in_message.get_flat_type_info(descriptor.in_message))
        self._function = descriptor.function
        out = descriptor.out_message
        self._out_tag = "{%s}%s" % (out.get_namespace(), out.get_type_name())
        self._out_names = list(out.get_flat_type_info(out))
        self._writer = Writer(out, app.out_protocol)
        used = {ns.SOAP11_ENV, out.get_namespace(), XSI}
        used.update(t.get_namespace() for t in _complex_types(out))
        prefixes = app.interface.nsmap
        self._nsmap = {p: uri for p, uri in prefixes.items() if uri in used and p != "xml"}

    def validate(self, body: etree._Element) -> None:
        if not self._schema.validate(body):
            error = self._schema.error_log.last_error  # type: ignore[attr-defined]
            message = " ".join(str(error.message if error else "invalid request").split())
            where = f"line {error.line}: " if error is not None and error.line else ""
            raise EnvelopeError("SCHEMA_INVALID", f"{where}{message}"[:1000])

    def call(self, body: etree._Element, environ: dict[str, Any]) -> bytes:
        """The response envelope for ``body`` (validated), or raise a ``GatewayError``."""
        args = self._reader.read(body)
        values = [getattr(args, name) for name in self._arg_names] if args is not None else []
        ctx = SimpleNamespace(transport=SimpleNamespace(req_env=environ))
        try:
            result = self._function(ctx, *values)
        except Fault as fault:
            error: GatewayError | None = getattr(fault, ERROR_ATTRIBUTE, None)
            if error is None:
                raise
            raise error from None
        return self.envelope(result)

    def envelope(self, result: Any) -> bytes:
        env = etree.Element(_ENV + "Envelope", nsmap=self._nsmap)
        body = etree.SubElement(env, _ENV + "Body")
        out = etree.SubElement(body, self._out_tag)
        if len(self._out_names) == 1:
            values = SimpleNamespace(**{self._out_names[0]: result})
        else:
            values = SimpleNamespace(**dict(zip(self._out_names, result or (), strict=False)))
        self._writer.write(out, values)
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def _complex_types(cls: Any, seen: set[Any] | None = None) -> set[Any]:
    from spyne.model.complex import ComplexModelBase

    seen = set() if seen is None else seen
    for t in cls.get_flat_type_info(cls).values():
        if isinstance(t, type) and issubclass(t, ComplexModelBase) and t not in seen:
            seen.add(t)
            _complex_types(t, seen)
    return seen


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
