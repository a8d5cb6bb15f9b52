"""An order inquiry (OrderInformationService ``GetOrderDetails``) and the WS-Security
header Oracle's own clients send with it, shared by the inbound security tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

OIS_TYPES = "http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/types/"
OIS = "http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"


def inquiry(header: str = "", number: str = "NO-SUCH") -> bytes:
    return f"""<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
      xmlns:typ="{OIS_TYPES}" xmlns:ord="{OIS}">{header}<soapenv:Body><typ:GetOrderDetails>
      <typ:Order><ord:SourceTransactionNumber>{number}</ord:SourceTransactionNumber></typ:Order>
      </typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>""".encode()


def oracle_text_header(user: str, password: str, expires: datetime | None = None) -> str:
    """The header Oracle's own Java clients send (contract §8.3)."""
    now = datetime.now(UTC)
    expires = expires or now + timedelta(minutes=5)
    return f"""<soapenv:Header><wsse:Security soapenv:mustUnderstand="1"
      xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">
      <wsu:Timestamp wsu:Id="TS-1"><wsu:Created>{now:%Y-%m-%dT%H:%M:%S.000Z}</wsu:Created>
      <wsu:Expires>{expires:%Y-%m-%dT%H:%M:%S.000Z}</wsu:Expires></wsu:Timestamp>
      <wsse:UsernameToken wsu:Id="UT-1"><wsse:Username>{user}</wsse:Username>
      <wsse:Password Type="{TEXT}">{password}</wsse:Password></wsse:UsernameToken>
      </wsse:Security></soapenv:Header>"""


def ois(gateway) -> str:
    return gateway.url("OrderInformationService")
