// A node-soap client made from the gateway's served WSDLs: creates an order, reads it
// back, acknowledges its request and ships it; prints what it got as JSON.
//
//   NODE_PATH=<dir>/node_modules node roundtrip.js <base url> <user> <password> <key>
"use strict";

const soap = require("soap");

async function client(base, service, user, password) {
  const c = await soap.createClientAsync(`${base}/fscmService/${service}?WSDL`);
  c.setSecurity(new soap.BasicAuthSecurity(user, password));
  return c;
}

function list(value) {
  return value == null ? [] : Array.isArray(value) ? value : [value];
}

async function main() {
  const [base, user, password, key] = process.argv.slice(2);
  const imports = await client(base, "OrderImportService", user, password);
  const info = await client(base, "OrderInformationService", user, password);
  const ofrs = await client(base, "OrderFulfillmentResponseService", user, password);

  // node-soap writes an object's keys in the order they are given, not the schema's
  const [created] = await imports.createOrdersAsync({
    request: {
      BatchName: "NODE",
      Order: [
        {
          SourceTransactionNumber: `SO-${key}`,
          SourceTransactionSystem: "LEGACY",
          SourceTransactionIdentifier: key,
          BuyingPartyId: 1006,
          FreezePriceFlag: true,
          TransactionalCurrencyCode: "USD",
          Line: [
            {
              ProductNumber: "AS54888",
              SourceTransactionLineIdentifier: "1",
              SourceTransactionScheduleIdentifier: "1-1",
              OrderedQuantity: { attributes: { unitCode: "Ea" }, $value: "4" },
              UnitListPrice: { attributes: { currencyCode: "USD" }, $value: "105.50" },
              PartialShipAllowedFlag: false,
              OrderCharge: [
                {
                  ChargeDefinitionCode: "QP_SALE_PRICE",
                  OrderChargeComponent: [{ PriceElementCode: "QP_LIST_PRICE" }],
                },
              ],
            },
          ],
          OrderPreferences: { SubmitFlag: true },
        },
      ],
    },
  });
  const result = list(created.result)[0];
  const [details] = await info.GetOrderDetailsAsync({
    Order: [{ SourceTransactionIdentifier: key, SourceTransactionSystem: "LEGACY" }],
  });
  const order = list(details.Order)[0];
  const line = list(order.OrderLine)[0];
  await ofrs.processAcknowledgementAsync({
    fulfillmentRequestAcknowledgement: {
      FulfillmentSystem: "WMS01",
      FulfillmentRequestIdentifier: line.FulfillmentRequestIdentifier,
      RequestStatusCode: "SUCCESS",
    },
  });
  const [shipped] = await ofrs.processFulfillmentResponseAsync({
    responseMessageHeader: {
      FulfillmentSystem: "WMS01",
      FulfillmentSystemResponseIdentifier: `NODE-${key}`,
      IntegrationContextCode: "Shipment",
    },
    fulfillLineList: [
      {
        FulfillLineIdentifier: line.FulfillLineIdentifier,
        ShippedQuantity: { attributes: { unitCode: "Ea" }, $value: "4" },
      },
    ],
  });
  process.stdout.write(JSON.stringify({ result, order, shipped: shipped.result }));
}

main().catch((err) => {
  console.error(err && err.root ? JSON.stringify(err.root) : err);
  process.exit(1);
});
