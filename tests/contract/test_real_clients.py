"""Requests shaped as public Oracle-era client code sends them, posted over HTTP.

The shapes (element names and order, prefixes, headers, empty placeholders, stray text,
flag spellings) are those of real clients of Oracle's services; the values are ours.
Every answer must validate against the WSDL we publish (``check_answer``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from tests.common.published import check_answer
from tests.common.soap import PASSWORD, basic, fault_code, post
from tests.common.state import snapshot, unchanged
from tests.conftest import Admin
from tests.contract.corpus import PASSWORD_TEXT, WSSE, WSU

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
IMP = "http://xmlns.oracle.com/apps/scm/fom/importOrders/orderImportService/"
OIS = "http://xmlns.oracle.com/apps/scm/doo/decomposition/orderDetailServices/orderInformationService/"
OFRS = "http://xmlns.oracle.com/apps/scm/doo/taskLayer/commonService/"
MODEL = "http://xmlns.oracle.com/apps/scm/doo/processOrder/model/"


def wsse(user: str = "all") -> str:
    # a current Timestamp, five minutes long, in the form Java clients write it
    now = datetime.now(UTC)
    created = now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    expires = (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return f"""<soapenv:Header><wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"
 soapenv:mustUnderstand="1"><wsu:Timestamp><wsu:Created>{created}</wsu:Created>
 <wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp>
 <wsse:UsernameToken><wsse:Username>{user}</wsse:Username>
 <wsse:Password Type="{PASSWORD_TEXT}">{PASSWORD}</wsse:Password></wsse:UsernameToken>
 </wsse:Security></soapenv:Header>"""


def java_ssl_client(key: str) -> bytes:
    """createOrders as a Java SAAJ client sends it: the body parsed from a template
    (``ns1`` types, ``ns2`` data, CRLFs), a WS-Security header with a timestamp and
    ``mustUnderstand="1"``, no SOAPAction; empty placeholders, a placeholder repeating a
    filled element, and a flag spelled ``FALSE``."""
    body = f"""<ns1:createOrders xmlns:ns1="{IMP}types/">\r
  <ns1:request xmlns:ns2="{IMP}">\r
    <ns2:BatchName/>\r
    <ns2:Order>\r
      <ns2:SourceTransactionIdentifier>{key}</ns2:SourceTransactionIdentifier>\r
      <ns2:SourceTransactionSystem>LEGACY</ns2:SourceTransactionSystem>\r
      <ns2:SourceTransactionNumber>{key}</ns2:SourceTransactionNumber>\r
      <ns2:BuyingPartyId>1006</ns2:BuyingPartyId>\r
      <ns2:BuyingPartyContactId>1560</ns2:BuyingPartyContactId>\r
      <ns2:TransactionalCurrencyCode>USD</ns2:TransactionalCurrencyCode>\r
      <ns2:TransactionOn>2026-12-10T06:08:52.0340</ns2:TransactionOn>\r
      <ns2:RequestingBusinessUnitIdentifier>204</ns2:RequestingBusinessUnitIdentifier>\r
      <ns2:RequestingLegalUnitIdentifier>205</ns2:RequestingLegalUnitIdentifier>\r
      <ns2:FreezePriceFlag>true</ns2:FreezePriceFlag>\r
      <ns2:FreezeShippingChargeFlag>true</ns2:FreezeShippingChargeFlag>\r
      <ns2:FreezeTaxFlag>true</ns2:FreezeTaxFlag>\r
      <ns2:Line>\r
        <ns2:SourceTransactionLineIdentifier>101</ns2:SourceTransactionLineIdentifier>\r
        <ns2:SourceTransactionScheduleIdentifier>101</ns2:SourceTransactionScheduleIdentifier>\r
        <ns2:SourceTransactionLineNumber>1</ns2:SourceTransactionLineNumber>\r
        <ns2:SourceTransactionScheduleNumber>1</ns2:SourceTransactionScheduleNumber>\r
        <ns2:ProductNumber>AS54888</ns2:ProductNumber>\r
        <ns2:OrderedQuantity unitCode="Ea">2</ns2:OrderedQuantity>\r
        <ns2:OrderedUOMCode>Ea</ns2:OrderedUOMCode>\r
        <ns2:RequestedFulfillmentOrganizationIdentifier>207</ns2:RequestedFulfillmentOrganizationIdentifier>\r
        <ns2:RequestingBusinessUnitIdentifier>204</ns2:RequestingBusinessUnitIdentifier>\r
        <ns2:RequestedShipDate>2026-12-12T06:08:52.0340</ns2:RequestedShipDate>\r
        <ns2:PaymentTermsCode>1</ns2:PaymentTermsCode>\r
        <ns2:TransactionCategoryCode>ORDER</ns2:TransactionCategoryCode>\r
        <ns2:InventoryOrganizationIdentifier>204</ns2:InventoryOrganizationIdentifier>\r
        <ns2:UnitListPrice currencyCode="USD">105.5</ns2:UnitListPrice>\r
        <ns2:ShipToPartyIdentifier>1006</ns2:ShipToPartyIdentifier>\r
        <ns2:ShipToPartySiteIdentifier>1036</ns2:ShipToPartySiteIdentifier>\r
        <ns2:ShipToPartyContactIdentifier>1560</ns2:ShipToPartyContactIdentifier>\r
        <ns2:BillToCustomerIdentifier>1006</ns2:BillToCustomerIdentifier>\r
        <ns2:BillToCustomerName>Computer Service and Rentals</ns2:BillToCustomerName>\r
        <ns2:BillToAccountSiteUseIdentifier>1025</ns2:BillToAccountSiteUseIdentifier>\r
        <ns2:BillToAccountContactIdentifier>4820</ns2:BillToAccountContactIdentifier>\r
        <ns2:PartialShipAllowedFlag>FALSE</ns2:PartialShipAllowedFlag>\r
        <ns2:OrderCharge>\r
          <ns2:ChargeDefinitionCode>QP_SALE_PRICE</ns2:ChargeDefinitionCode>\r
          <ns2:ChargeSubtypeCode>ORA_PRICE</ns2:ChargeSubtypeCode>\r
          <ns2:PriceTypeCode>ONE_TIME</ns2:PriceTypeCode>\r
          <ns2:PricedQuantity>2</ns2:PricedQuantity>\r
          <ns2:PricedQuantityUOMCode>Ea</ns2:PricedQuantityUOMCode>\r
          <ns2:PrimaryFlag>true</ns2:PrimaryFlag>\r
          <ns2:ApplyTo>PRICE</ns2:ApplyTo>\r
          <ns2:RollupFlag>false</ns2:RollupFlag>\r
          <ns2:SourceChargeIdentifier>SC1</ns2:SourceChargeIdentifier>\r
          <ns2:ChargeCurrencyCode>USD</ns2:ChargeCurrencyCode>\r
          <ns2:ChargeTypeCode>ORA_SALE</ns2:ChargeTypeCode>\r
          <ns2:ChargeCurrencyCode/>\r
          <ns2:SequenceNumber>1</ns2:SequenceNumber>\r
          <ns2:PricePeriodicityCode/>\r
          <ns2:GsaUnitPrice/>\r
          <ns2:OrderChargeComponent>\r
            <ns2:ChargeCurrencyCode/>\r
            <ns2:HeaderCurrencyExtendedAmount>211</ns2:HeaderCurrencyExtendedAmount>\r
            <ns2:PriceElementCode>QP_NET_PRICE</ns2:PriceElementCode>\r
            <ns2:SequenceNumber>2</ns2:SequenceNumber>\r
            <ns2:PriceElementUsageCode>NET_PRICE</ns2:PriceElementUsageCode>\r
            <ns2:HeaderCurrencyUnitPrice>105.5</ns2:HeaderCurrencyUnitPrice>\r
            <ns2:RollupFlag>false</ns2:RollupFlag>\r
            <ns2:SourceParentChargeComponentId/>\r
            <ns2:SourceChargeIdentifier>SC1</ns2:SourceChargeIdentifier>\r
            <ns2:SourceChargeComponentIdentifier>SCC1</ns2:SourceChargeComponentIdentifier>\r
          </ns2:OrderChargeComponent>\r
          <ns2:OrderChargeComponent>\r
            <ns2:HeaderCurrencyExtendedAmount>211</ns2:HeaderCurrencyExtendedAmount>\r
            <ns2:PriceElementCode>QP_LIST_PRICE</ns2:PriceElementCode>\r
            <ns2:SequenceNumber>1</ns2:SequenceNumber>\r
            <ns2:SourceChargeIdentifier>SC1</ns2:SourceChargeIdentifier>\r
            <ns2:SourceChargeComponentIdentifier>SCC2</ns2:SourceChargeComponentIdentifier>\r
            <ns2:ChargeCurrencyExtendedAmount>211</ns2:ChargeCurrencyExtendedAmount>\r
          </ns2:OrderChargeComponent>\r
        </ns2:OrderCharge>\r
      </ns2:Line>\r
      <ns2:OrderPreferences/>\r
    </ns2:Order>\r
  </ns1:request>\r
</ns1:createOrders>"""
    return (
        f'<soapenv:Envelope xmlns:soapenv="{ENV}">{wsse()}<soapenv:Body>{body}'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


def odoo_template(key: str) -> bytes:
    """createOrders as an Odoo module's string template writes it: Oracle's SoapUI
    prefixes, a ``-`` before elements (copied from a browser's XML view), fields in its
    own order, a price adjustment first in the line, an empty placeholder beside the
    filled one, ``True``, a unit only in ``unitCode``, and a comment."""
    return f"""<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{IMP}types/"
 xmlns:ord="{IMP}" xmlns:mod="{MODEL}">
 <soapenv:Header/>
 <soapenv:Body>
  <typ:createOrders>
   <typ:request>
    -<ord:Order>
     <ord:SourceTransactionSystem>LEGACY</ord:SourceTransactionSystem>
     <ord:SourceTransactionNumber>POS {key}</ord:SourceTransactionNumber>
     <ord:SourceTransactionIdentifier>{key}</ord:SourceTransactionIdentifier>
     <ord:BuyingPartyId>300000876780446</ord:BuyingPartyId>
     <ord:ShipToPartyIdentifier>300000876780446</ord:ShipToPartyIdentifier>
     <ord:ShipToPartySiteIdentifier>300000876780450</ord:ShipToPartySiteIdentifier>
     <ord:BillToCustomerIdentifier>300000876780448</ord:BillToCustomerIdentifier>
     <ord:TransactionalCurrencyCode>EGP</ord:TransactionalCurrencyCode>
     <ord:TransactionOn>2026-12-03T10:11:12.000000Z</ord:TransactionOn>
     <ord:OrigSystemDocumentReference/>
     <ord:RequestingBusinessUnitIdentifier>300000004163174</ord:RequestingBusinessUnitIdentifier>
     <ord:FreezePriceFlag>false</ord:FreezePriceFlag>
     <ord:FreezeShippingChargeFlag>false</ord:FreezeShippingChargeFlag>
     <ord:FreezeTaxFlag>false</ord:FreezeTaxFlag>
     <ord:TransactionTypeCode>STD</ord:TransactionTypeCode>
     <ord:ShipmentPriorityCode>HIGH</ord:ShipmentPriorityCode>
     <ord:ShipmentPriority/>
     -<ord:Line>
      <ord:ManualPriceAdjustment>
       <ord:SourceTransactionSystem>LEGACY</ord:SourceTransactionSystem>
       <ord:SourceTransactionNumber>POS {key}</ord:SourceTransactionNumber>
       <ord:SourceTransactionIdentifier>{key}</ord:SourceTransactionIdentifier>
       <ord:SourceTransactionLineIdentifier>1</ord:SourceTransactionLineIdentifier>
       <ord:SourceTransactionLineNumber>1</ord:SourceTransactionLineNumber>
       <ord:SourceTransactionScheduleNumber>1</ord:SourceTransactionScheduleNumber>
       <ord:SourceTransactionScheduleIdentifier>1</ord:SourceTransactionScheduleIdentifier>
       <ord:AdjustmentAmount>87.71929824561404</ord:AdjustmentAmount>
       <ord:AdjustmentType>Price override</ord:AdjustmentType>
       <ord:ChargeDefinitionCode>QP_SALE_PRICE</ord:ChargeDefinitionCode>
       <ord:ChargeRollupFlag>false</ord:ChargeRollupFlag>
       <ord:SourceManualPriceAdjustmentIdentifier>1</ord:SourceManualPriceAdjustmentIdentifier>
       <ord:SequenceNumber>1</ord:SequenceNumber>
       <ord:Reason>Other</ord:Reason>
      </ord:ManualPriceAdjustment>
      <ord:TransactionTypeCode>STD</ord:TransactionTypeCode>
      <ord:OrigSystemDocumentReference/>
      <ord:SourceTransactionLineIdentifier>1</ord:SourceTransactionLineIdentifier>
      <ord:SourceTransactionLineNumber>1</ord:SourceTransactionLineNumber>
      <ord:SourceTransactionScheduleNumber>1</ord:SourceTransactionScheduleNumber>
      <ord:SourceTransactionScheduleIdentifier>1</ord:SourceTransactionScheduleIdentifier>
      <ord:ProductNumber>AS54888</ord:ProductNumber>
      <ord:OrderedQuantity unitCode="PC">3.0</ord:OrderedQuantity>
      <ord:OrderedUOM>Piece</ord:OrderedUOM>
      <ord:RequestedFulfillmentOrganizationIdentifier>300000020186796</ord:RequestedFulfillmentOrganizationIdentifier>
      <ord:RequestedShipDate>2026-12-03T10:11:12.000000Z</ord:RequestedShipDate>
      <ord:PaymentTermsCode>5</ord:PaymentTermsCode>
      <ord:TransactionCategoryCode>ORDER</ord:TransactionCategoryCode>
      <ord:InventoryOrganizationIdentifier>300000020186796</ord:InventoryOrganizationIdentifier>
      <ord:UnitListPrice currencyCode="EGP">100.0</ord:UnitListPrice>
      <ord:UnitSellingPrice currencyCode="EGP">87.71929824561404</ord:UnitSellingPrice>
      <ord:BillToCustomerIdentifier>300000876780448</ord:BillToCustomerIdentifier>
      <ord:BillToAccountSiteUseIdentifier></ord:BillToAccountSiteUseIdentifier>
      <ord:PartialShipAllowedFlag>True</ord:PartialShipAllowedFlag>
      <ord:OrigSystemDocumentReference>ORIGSYS</ord:OrigSystemDocumentReference>
      <ord:OrigSystemDocumentLineReference>ORIGSYSLINE</ord:OrigSystemDocumentLineReference>
      <ord:TaxExempt>S</ord:TaxExempt>
      <ord:TaxClassification>VAT14</ord:TaxClassification>
      <ord:TransactionLineTypeCode>ORA_BUY</ord:TransactionLineTypeCode>
      <ord:ShipmentPriorityCode>HIGH</ord:ShipmentPriorityCode>
     </ord:Line>
     -<ord:OrderPreferences>
      <ord:CreateCustomerInformationFlag>false</ord:CreateCustomerInformationFlag>
      <!-- without SubmitFlag the order is submitted; false would make it a draft -->
      <ord:SubmitFlag>true</ord:SubmitFlag>
     </ord:OrderPreferences>
    </ord:Order>
   </typ:request>
  </typ:createOrders>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


def details(key: str, *, full: bool = True) -> bytes:
    """GetOrderDetails as a Java invoicing client sends it: every OrderRequest element,
    the unused ones empty (``full``), or only the number and ExcludeAttachments."""
    if full:
        order = f"""<ord:SourceTransactionIdentifier>{key}</ord:SourceTransactionIdentifier>
 <ord:SourceTransactionSystem>LEGACY</ord:SourceTransactionSystem>
 <ord:SourceTransactionNumber></ord:SourceTransactionNumber>
 <ord:SourceTransactionRevision></ord:SourceTransactionRevision>
 <ord:IncludeHeaderAndLineAttributesOnly></ord:IncludeHeaderAndLineAttributesOnly>
 <ord:ExcludeAttachments>N</ord:ExcludeAttachments>
 <ord:TargetSystem></ord:TargetSystem>
 <ord:OrderLine><ord:SourceTransactionLineIdentifier></ord:SourceTransactionLineIdentifier>
 </ord:OrderLine>"""
    else:
        order = (
            f"<ord:SourceTransactionNumber>{key}</ord:SourceTransactionNumber>"
            "<ord:ExcludeAttachments>N</ord:ExcludeAttachments>"
        )
    return f"""<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{OIS}types/" xmlns:ord="{OIS}">
<soapenv:Header/><soapenv:Body><typ:GetOrderDetails><typ:Order>{order}</typ:Order>
</typ:GetOrderDetails></soapenv:Body></soapenv:Envelope>""".encode()


def get(gateway, key: str, **kw: bool) -> etree._Element:
    """The order, read as the Java client reads it: posted to ``?invoke=`` with Basic
    auth and no SOAPAction, the answer navigated by Oracle's prefixes."""
    res = post(
        gateway.url("OrderInformationService") + "?invoke=", details(key, **kw), basic("all")
    )
    assert res.status == 200, res.body[:1500]
    check_answer("OrderInformationService", res.body)
    root = etree.fromstring(res.body)
    nsmap = {"env": ENV, "ns0": f"{OIS}types/", "ns1": f"{OIS}types/"}
    (order,) = root.xpath(
        "/env:Envelope/env:Body/ns0:GetOrderDetailsResponse/ns1:Order", namespaces=nsmap
    )
    # the data children answer as ns0:, which the result element rebinds to the data namespace
    assert order.nsmap["ns0"] == OIS and order.nsmap["ns1"] == f"{OIS}types/"
    return order


def text(el: etree._Element, path: str) -> str | None:
    return el.findtext(path, namespaces={"o": OIS})


def test_a_java_client_with_ws_security_and_placeholders_creates_an_order(sqlite_gateway, unique):
    res = post(sqlite_gateway.url("OrderImportService"), java_ssl_client(unique))
    assert res.status == 200, res.body[:2000]
    (result,) = check_answer("OrderImportService", res.body)
    root = etree.fromstring(res.body)
    # the answer as real clients read it: ns0:createOrdersResponse/ns1:result/ns0:…
    nsmap = {"ns0": f"{IMP}types/", "ns1": f"{IMP}types/"}
    assert root.xpath("//ns0:createOrdersResponse/ns1:result", namespaces=nsmap)
    assert result.findtext(f"{{{IMP}}}ReturnStatus") == "SUCCESS"
    assert (
        result.findtext(
            f"{{{IMP}}}OrderImportResponseLine/{{{IMP}}}SourceTransactionScheduleIdentifier"
        )
        == "101"
    )

    order = get(sqlite_gateway, unique)
    assert text(order, "o:BuyingPartyId") == "1006"
    assert text(order, "o:RequestingLegalUnitIdentifier") == "205"
    assert text(order, "o:FreezePriceFlag") == "true"
    (line,) = order.findall(f"{{{OIS}}}OrderLine")
    assert text(line, "o:PartialShipAllowedFlag") == "false"  # sent as FALSE
    assert text(line, "o:SourceTransactionScheduleIdentifier") == "101"
    assert line.find(f"{{{OIS}}}UnitListPrice").get("currencyCode") == "USD"
    assert Decimal(text(line, "o:UnitListPrice")) == Decimal("105.5")
    (charge,) = line.findall(f"{{{OIS}}}OrderCharge")
    assert text(charge, "o:ChargeCurrencyCode") == "USD"  # the empty placeholder was no value
    assert [
        text(c, "o:PriceElementCode") for c in charge.findall(f"{{{OIS}}}OrderChargeComponent")
    ] == [
        "QP_NET_PRICE",
        "QP_LIST_PRICE",
    ]


def test_an_odoo_style_template_creates_an_order(sqlite_gateway, unique):
    res = post(sqlite_gateway.url("OrderImportService"), odoo_template(unique), basic("all"))
    assert res.status == 200, res.body[:2000]
    check_answer("OrderImportService", res.body)

    order = get(sqlite_gateway, f"POS {unique}", full=False)
    assert text(order, "o:ShipmentPriorityCode") == "HIGH"
    assert text(order, "o:OrderPreferences/o:SubmitFlag") == "true"
    (line,) = order.findall(f"{{{OIS}}}OrderLine")
    assert line.find(f"{{{OIS}}}OrderedQuantity").get("unitCode") == "PC"
    assert text(line, "o:OrderedUOM") == "Piece"
    assert text(line, "o:OrigSystemDocumentReference") == "ORIGSYS"
    assert text(line, "o:PartialShipAllowedFlag") == "true"  # sent as True
    assert text(line, "o:TransactionLineTypeCode") == "ORA_BUY"
    assert text(line, "o:ManualPriceAdjustment/o:Reason") == "Other"
    assert Decimal(text(line, "o:ManualPriceAdjustment/o:AdjustmentAmount")) == Decimal(
        "87.71929824561404"
    )


#: every element the Java invoicing client reads from a GetOrderDetails answer; it reads
#: them unconditionally, so each must be there (xsi:nil when there is no value)
JAVA_HEADER_KEYS = [
    "RequestingBusinessUnitIdentifier",
    "RequestingBusinessUnitName",
    "SourceTransactionNumber",
    "SourceTransactionSystem",
    "SourceTransactionIdentifier",
    "TransactionalCurrencyCode",
    "CurrencyConversionRate",
    "TransactionTypeCode",
    "CustomerPONumber",
    "Salesperson",
    "OrderNumber",
]
JAVA_LINE_KEYS = [
    "RequestedFulfillmentOrganizationCode",
    "RequestedFulfillmentOrganizationIdentifier",
    "SourceTransactionLineNumber",
    "OrderedQuantity",
    "OrderedUOMCode",
    "OrderedUOM",
    "ProductNumber",
    "ProductDescription",
    "StatusCode",
    "FreightTermsCode",
    "ShippingCarrier",
    "ProductIdentifier",
    "SourceTransactionLineIdentifier",
    "InventoryOrganizationName",
    "TransformFromLineIdentifier",
    "SplitFromFlineIdentifier",
    "ItemSubTypeCode",
    "ReturnReason",
    "ShippingInstructions",
    "FulfillLineIdentifier",
]


@pytest.mark.parametrize("full", [True, False], ids=["every element", "number only"])
def test_get_order_details_answers_every_key_a_java_parser_reads(sqlite_gateway, unique, full):
    res = post(sqlite_gateway.url("OrderImportService"), java_ssl_client(unique))
    assert res.status == 200
    order = get(sqlite_gateway, unique, full=full)
    for key in JAVA_HEADER_KEYS:
        assert order.find(f"{{{OIS}}}{key}") is not None, key
    (line,) = order.findall(f"{{{OIS}}}OrderLine")
    for key in JAVA_LINE_KEYS:
        assert line.find(f"{{{OIS}}}{key}") is not None, key


def test_a_fulfillment_response_with_lots_and_details_comes_back_on_the_line(
    sqlite_gateway, unique
):
    post(sqlite_gateway.url("OrderImportService"), java_ssl_client(unique))
    fline = text(get(sqlite_gateway, unique), "o:OrderLine/o:FulfillLineIdentifier")
    body = f"""<soapenv:Envelope xmlns:soapenv="{ENV}" xmlns:typ="{OFRS}types/" xmlns:com="{OFRS}">
{wsse()}<soapenv:Body><typ:processFulfillmentResponse><typ:responseMessageHeader>
<com:FulfillmentSystem>WMS01</com:FulfillmentSystem>
<com:FulfillmentSystemResponseIdentifier>LOT-{unique}</com:FulfillmentSystemResponseIdentifier>
<com:IntegrationContextCode>Shipment</com:IntegrationContextCode>
</typ:responseMessageHeader><typ:fulfillLineList>
<com:ShippedQuantity unitCode="Ea">2</com:ShippedQuantity>
<com:FulfillLineIdentifier>{fline}</com:FulfillLineIdentifier>
<com:BuyerName>Pat Doe</com:BuyerName>
<com:FulfillmentDetail><com:TrackingNumber>1Z999</com:TrackingNumber>
<com:Quantity unitCode="Ea">2</com:Quantity><com:DeliveryName>D-77</com:DeliveryName>
<com:TaskTypeCode>Shipment</com:TaskTypeCode></com:FulfillmentDetail>
<com:LotSerial><com:LotNumber>LOT-9</com:LotNumber><com:SerialNumberFrom>S100</com:SerialNumberFrom>
<com:SerialNumberTo>S101</com:SerialNumberTo><com:Quantity unitCode="Ea">2</com:Quantity></com:LotSerial>
<com:ShippingCost><com:Amount currencyCode="USD">12.50</com:Amount><com:Name>Freight</com:Name></com:ShippingCost>
</typ:fulfillLineList></typ:processFulfillmentResponse></soapenv:Body></soapenv:Envelope>""".encode()
    res = post(sqlite_gateway.url("OrderFulfillmentResponseService"), body)
    assert res.status == 200, res.body[:2000]
    check_answer("OrderFulfillmentResponseService", res.body)

    (line,) = get(sqlite_gateway, unique).findall(f"{{{OIS}}}OrderLine")
    assert text(line, "o:LineLotSerial/o:LotNumber") == "LOT-9"
    assert (
        text(line, "o:LineLotSerial/o:SerialNumberFrom"),
        text(line, "o:LineLotSerial/o:SerialNumberTo"),
    ) == ("S100", "S101")
    assert text(line, "o:LineLotSerial/o:FulfillLineIdentifier") == fline
    assert (
        text(line, "o:LineDetail/o:TrackingNumber"),
        text(line, "o:LineDetail/o:DeliveryName"),
    ) == ("1Z999", "D-77")
    assert text(line, "o:LineDetail/o:TaskType") == "Shipment"
    # kept with the line, where no documented answer attribute holds it
    with sqlite_gateway.runtime.sessions() as s:
        from gateway.persistence.models import FulfillLine

        kept = s.get(FulfillLine, int(fline)).attributes_json
    assert '"BuyerName":"Pat Doe"' in kept and '"Name":"Freight"' in kept


def test_an_undocumented_element_is_refused_by_name_and_line_and_changes_nothing(
    sqlite_gateway, unique
):
    body = java_ssl_client(unique).replace(
        b"<ns2:FreezeTaxFlag>true</ns2:FreezeTaxFlag>",
        b"<ns2:FreezeTaxFlag>true</ns2:FreezeTaxFlag>\r\n<ns2:FreezeEverythingFlag>true</ns2:FreezeEverythingFlag>",
    )
    before = snapshot(sqlite_gateway.runtime)
    res = post(sqlite_gateway.url("OrderImportService"), body)
    assert res.status == 500
    check_answer("OrderImportService", res.body)
    assert fault_code(res.body) == "OMGW-SCHEMA_INVALID"
    message = etree.fromstring(res.body).findtext(".//faultstring")
    assert "FreezeEverythingFlag" in message and "createOrders/request[1]/Order[1]" in message
    line = body[: body.index(b"FreezeEverythingFlag")].count(b"\n") + 1
    assert message.startswith(f"line {line}: "), message
    unchanged(sqlite_gateway.runtime, before)


@pytest.mark.parametrize(
    "action",
    [None, f"{IMP}createOrders", '"createOrders"', "urn:something-else"],
    ids=["none", "Oracle's", "spyne's", "another"],
)
def test_any_soap_action_or_none_is_accepted(sqlite_gateway, unique, action):
    headers = {"SOAPAction": action} if action else {}
    res = post(sqlite_gateway.url("OrderImportService"), java_ssl_client(unique), headers)
    assert res.status == 200, res.body[:500]


def test_orders_show_lists_what_was_kept_as_sent(sqlite_gateway, unique):
    res = post(sqlite_gateway.url("OrderImportService"), odoo_template(unique), basic("all"))
    assert res.status == 200
    number = etree.fromstring(res.body).findtext(f".//{{{IMP}}}OrderNumber")
    env = {k: None for k in os.environ if k.startswith("OMGW_")}
    env.update(sqlite_gateway.runtime.settings.to_env())
    admin = Admin(env, sqlite_gateway.runtime.settings.home)

    story = admin.json("orders", "show", number)
    assert story["attributes"]["ShipmentPriorityCode"] == "HIGH"
    assert story["attributes"]["OrderPreferences"] == {
        "CreateCustomerInformationFlag": False,
        "SubmitFlag": True,
    }
    (line,) = story["lines"]
    assert line["attributes"]["TransactionLineTypeCode"] == "ORA_BUY"
    assert line["attributes"]["UnitListPrice"] == {"value": "100.0", "currencyCode": "EGP"}
    table = admin.ok("orders", "show", number)
    assert "kept as sent" in table and "attributes (see --json)" in table


def test_a_request_with_a_ws_addressing_message_id_gets_one_that_relates_to_it(
    sqlite_gateway, unique
):
    wsa = "http://www.w3.org/2005/08/addressing"
    mid = f"urn:uuid:{unique}"
    body = java_ssl_client(unique).replace(
        b"<soapenv:Header>",
        f'<soapenv:Header><wsa:MessageID xmlns:wsa="{wsa}">{mid}</wsa:MessageID>'.encode(),
    )
    res = post(sqlite_gateway.url("OrderImportService"), body)
    assert res.status == 200, res.body[:1000]
    check_answer("OrderImportService", res.body)
    header = etree.fromstring(res.body).find(f"{{{ENV}}}Header")
    assert header.findtext(f"{{{wsa}}}RelatesTo") == mid
    assert header.findtext(f"{{{wsa}}}Action") == f"{IMP}/OrderImportService/createOrdersResponse"
    assert header.findtext(f"{{{wsa}}}MessageID").startswith("urn:uuid:")
    # without a MessageID there is nothing to relate to: no header
    plain = post(sqlite_gateway.url("OrderImportService"), java_ssl_client(unique + "2"))
    assert etree.fromstring(plain.body).find(f"{{{ENV}}}Header") is None
