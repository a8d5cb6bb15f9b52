"""Wire types of the three inbound services, named as in Oracle's contracts.

Data objects live in each service's namespace; operation wrappers (made by spyne)
live in the ``…/types/`` namespace. Output-only types declare their scalar fields
``min_occurs=1, nillable=True`` so an absent value is sent as ``xsi:nil="true"``,
as Oracle's ADF services do; input types keep everything optional so that missing
keys reach our validation and get a precise fault instead of a schema error.
"""

from __future__ import annotations

from typing import Any

from spyne import (
    ComplexModel,
    DateTime,
    Decimal,
    Integer,
    Long,
    Unicode,
    XmlAttribute,
    XmlData,
)

from gateway import namespaces as ns

__all__ = [
    "AmountType",
    "CreateOrderResponse",
    "FulfillLine",
    "FulfillmentDetail",
    "FulfillmentRequestAcknowledgement",
    "ImportHold",
    "ImportLine",
    "ImportOrder",
    "ImportedLine",
    "ImportedOrder",
    "MeasureType",
    "OrderImportRequest",
    "OrderInfo",
    "OrderInfoLine",
    "OrderRequest",
    "ResponseMessageHeader",
    "ResponseProcessingFulfillLine",
    "ResponseProcessingFulfillLineError",
    "ResponseProcessingHeader",
    "StageOrderFailure",
    "StageOrderResponse",
]

_Out = {"min_occurs": 1, "nillable": True}
S = Unicode
SO = Unicode(**_Out)
LO = Long(**_Out)
IO = Integer(**_Out)
DTO = DateTime(**_Out)


def _many(cls: Any, **kw: object) -> Any:
    return cls.customize(max_occurs="unbounded", **kw)


# -- ADF shared types (http://xmlns.oracle.com/adf/svc/types/) ---------------------------


class MeasureType(ComplexModel):
    """A quantity with its unit: ``<OrderedQuantity unitCode="Ea">1</OrderedQuantity>``."""

    __namespace__ = ns.ADF_TYPES
    _type_info = [("unitCode", XmlAttribute(Unicode)), ("value", XmlData(Decimal))]


class AmountType(ComplexModel):
    __namespace__ = ns.ADF_TYPES
    _type_info = [("currencyCode", XmlAttribute(Unicode)), ("value", XmlData(Decimal))]


# -- OrderFulfillmentResponseService -----------------------------------------------------


class FulfillmentRequestAcknowledgement(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [
        ("ErrorMessageName", S),
        ("ErrorMessageText", S),
        ("FulfillmentRequestIdentifier", Long),
        ("FulfillmentSystem", S),
        ("RequestStatusCode", S),
    ]


class ResponseMessageHeader(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [
        ("FulfillmentSystem", S),
        ("FulfillmentSystemResponseIdentifier", S),
        ("IntegrationContextCode", S),
        ("PurchasingChangeOrderOriginator", S),
        ("TradeComplianceScreeningResultCode", S),
    ]


class FulfillmentDetail(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [
        ("ActualDeliveryDate", DateTime),
        ("BillOfLadingNumber", S),
        ("BillingTransactionAmount", AmountType),
        ("BillingTransactionDate", DateTime),
        ("BillingTransactionNumber", S),
        ("Quantity", MeasureType),
        ("StatusCode", S),
        ("TaskType", S),
        ("TrackingNumber", S),
        ("WaybillNumber", S),
    ]


class FulfillLine(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [
        ("ActualCompletionDate", DateTime),
        ("ActualShippedDate", DateTime),
        ("ExtendedFulfillmentLineNumber", Long),
        ("FulfillLineIdentifier", Long),
        ("FulfillLineNumber", Integer),
        ("FulfillmentDetail", _many(FulfillmentDetail)),
        ("LineNumber", Integer),
        ("OrderNumber", S),
        ("ShippedQuantity", MeasureType),
        ("SourceOrderSystem", S),
        ("StatusCode", S),
    ]


class ResponseProcessingFulfillLineError(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [("MessageName", SO), ("MessageText", SO), ("Severity", SO)]


class ResponseProcessingFulfillLine(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [
        ("ExtendedFulfillmentLineNumber", LO),
        ("ExternalInteractionKey", SO),
        ("FulfillLineIdentifier", LO),
        ("FulfillLineNumber", IO),
        ("FulfillmentSplitReferenceIdentifier", LO),
        ("FulfillmentSystemInteractionIdentifier", LO),
        ("LineNumber", IO),
        ("OrderNumber", SO),
        ("ResponseProcessingFulfillLineError", _many(ResponseProcessingFulfillLineError)),
        ("SplitFromExternalInteractionKey", SO),
        ("StatusCode", SO),
        ("TaskInstanceStatusCode", SO),
    ]


class ResponseProcessingHeader(ComplexModel):
    __namespace__ = ns.OFRS
    _type_info = [
        ("ErrorMessageName", SO),
        ("ErrorMessageText", SO),
        ("FulfillmentSystemResponseIdentifier", SO),
        ("OverallStatusCode", SO),
        ("ResponseProcessingFulfillLine", _many(ResponseProcessingFulfillLine)),
        ("ResponseProcessingFulfillLineError", _many(ResponseProcessingFulfillLineError)),
    ]


# -- OrderInformationService -------------------------------------------------------------


class LineRequest(ComplexModel):
    __namespace__ = ns.OIS
    _type_info = [("SourceTransactionLineIdentifier", S)]


class OrderRequest(ComplexModel):
    """Oracle's ``OrderRequest``, plus ``OrderNumber`` (omgw: look up by our number)."""

    __namespace__ = ns.OIS
    _type_info = [
        ("ExcludeAttachments", S),
        ("IncludeHeaderAndLineAttributesOnly", S),
        ("OrderLine", _many(LineRequest)),
        ("SourceTransactionIdentifier", S),
        ("SourceTransactionNumber", S),
        ("SourceTransactionRevision", S),
        ("SourceTransactionSystem", S),
        ("TargetSystem", S),
        ("OrderNumber", S),
    ]


class OrderInfoLine(ComplexModel):
    """``Line`` at fulfillment-line grain: one element per fulfillment line."""

    __namespace__ = ns.OIS
    __type_name__ = "Line"
    _type_info = [
        ("LineIdentifier", LO),
        ("LineNumber", IO),
        ("SourceTransactionLineIdentifier", SO),
        ("SourceTransactionLineNumber", SO),
        ("FulfillLineIdentifier", LO),
        ("FulfillLineNumber", IO),
        ("ProductNumber", SO),
        ("ProductDescription", SO),
        ("OrderedQuantity", MeasureType.customize(**_Out)),
        ("OrderedUOMCode", SO),
        ("ShippedQuantity", MeasureType.customize(**_Out)),
        ("StatusCode", SO),
        ("LineStatusCode", SO),
        ("TaskType", SO),
        ("FulfillmentRequestIdentifier", LO),
        ("RequestedFulfillmentOrganizationCode", SO),
        ("ShipSetName", SO),
        ("RequestedShipDate", DTO),
        ("ScheduledShipDate", DTO),
        ("ActualShipDate", DTO),
        ("SplitFromFlineIdentifier", LO),
        ("TrackingNumber", SO),
        ("BillingTransactionNumber", SO),
    ]


class OrderInfo(ComplexModel):
    __namespace__ = ns.OIS
    __type_name__ = "Order"
    _type_info = [
        ("HeaderId", LO),
        ("OrderNumber", SO),
        ("SourceTransactionIdentifier", SO),
        ("SourceTransactionSystem", SO),
        ("SourceTransactionNumber", SO),
        ("SourceTransactionRevision", SO),
        ("StatusCode", SO),
        ("TransactionTypeCode", SO),
        ("TransactionalCurrencyCode", SO),
        ("TransactionOn", DTO),
        ("BuyingPartyName", SO),
        ("BuyingPartyNumber", SO),
        ("CustomerPONumber", SO),
        ("RequestingBusinessUnitName", SO),
        ("RequestedShipDate", DTO),
        ("OrderLine", _many(OrderInfoLine)),
    ]


# -- OrderImportService ------------------------------------------------------------------


class ImportHold(ComplexModel):
    """A hold applied as the order is imported (Oracle's import carries HoldCode and
    HoldComments, as DOO_ORDER_HOLDS_INT does)."""

    __namespace__ = ns.ORDER_IMPORT
    __type_name__ = "Hold"
    _type_info = [("HoldCode", S), ("HoldComments", S)]


class ImportLine(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    __type_name__ = "Line"
    _type_info = [
        ("SourceTransactionLineIdentifier", S),
        ("SourceTransactionLineNumber", S),
        ("ProductNumber", S),
        ("ProductDescription", S),
        ("OrderedQuantity", Decimal),
        ("OrderedUOMCode", S),
        ("RequestedShipDate", DateTime),
        ("RequestedFulfillmentOrganizationCode", S),
        ("ShipSetName", S),
        ("Hold", _many(ImportHold)),
    ]


class ImportOrder(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    __type_name__ = "Order"
    _type_info = [
        ("SourceTransactionIdentifier", S),
        ("SourceTransactionSystem", S),
        ("SourceTransactionNumber", S),
        ("SourceTransactionRevision", S),
        ("BuyingPartyName", S),
        ("BuyingPartyNumber", S),
        ("TransactionTypeCode", S),
        ("TransactionalCurrencyCode", S),
        ("TransactionOn", DateTime),
        ("RequestingBusinessUnitName", S),
        ("CustomerPONumber", S),
        ("RequestedShipDate", DateTime),
        ("Hold", _many(ImportHold)),
        ("Line", _many(ImportLine)),
    ]


class OrderImportRequest(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    _type_info = [("BatchName", S), ("Order", _many(ImportOrder, min_occurs=1))]


class ImportedLine(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    _type_info = [
        ("SourceTransactionLineIdentifier", SO),
        ("LineIdentifier", LO),
        ("LineNumber", IO),
        ("FulfillLineIdentifier", LO),
        ("StatusCode", SO),
    ]


class ImportedOrder(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    _type_info = [
        ("SourceTransactionIdentifier", SO),
        ("SourceTransactionSystem", SO),
        ("SourceTransactionNumber", SO),
        ("SourceTransactionRevision", SO),
        ("HeaderId", LO),
        ("OrderNumber", SO),
        ("StatusCode", SO),
        ("ImportStatus", SO),
        ("Line", _many(ImportedLine)),
    ]


class CreateOrderResponse(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    _type_info = [("BatchName", SO), ("Order", _many(ImportedOrder))]


class StageOrderFailure(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    _type_info = [
        ("SourceTransactionSystem", SO),
        ("SourceTransactionIdentifier", SO),
        ("SourceTransactionRevision", SO),
        ("ErrorCode", SO),
        ("ErrorMessage", SO),
    ]


class StageOrderResponse(ComplexModel):
    __namespace__ = ns.ORDER_IMPORT
    _type_info = [
        ("BatchName", SO),
        ("StagedCount", IO),
        ("FailedCount", IO),
        ("FailedOrder", _many(StageOrderFailure)),
    ]
