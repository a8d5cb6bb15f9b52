"""XML namespaces of the Oracle contracts we speak (contract §1–§3, §8)."""

from __future__ import annotations

__all__ = [
    "ADF_ERRORS",
    "ADF_TYPES",
    "OFRS",
    "OFRS_TYPES",
    "OIS",
    "OIS_TYPES",
    "ORDER_HOLD",
    "ORDER_HOLD_TYPES",
    "ORDER_IMPORT",
    "ORDER_IMPORT_TYPES",
    "SOAP11_ENV",
    "WSA",
    "WSSE",
    "WSU",
    "XSI",
]

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WSA = "http://www.w3.org/2005/08/addressing"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"

ADF_TYPES = "http://xmlns.oracle.com/adf/svc/types/"
ADF_ERRORS = "http://xmlns.oracle.com/adf/svc/errors/"

OFRS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"
OFRS_TYPES = OFRS + "types/"

OIS = "http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/"
OIS_TYPES = OIS + "types/"

ORDER_IMPORT = "http://xmlns.oracle.com/apps/scm/fom/importOrders/orderImportService/"
ORDER_IMPORT_TYPES = ORDER_IMPORT + "types/"

#: omgw's own service (no Oracle SOAP service for holds could be read): Oracle's family,
#: marked ``omgw`` (docs/holds-over-soap.md)
ORDER_HOLD = "http://xmlns.oracle.com/apps/scm/fom/omgw/orderHoldService/"
ORDER_HOLD_TYPES = ORDER_HOLD + "types/"
