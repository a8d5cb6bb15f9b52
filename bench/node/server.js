// node-soap reference server for the benchmarks (started by bench/node_soap.py).
//
// Publishes the gateway's own OrderFulfillmentResponseService WSDL with the npm package
// `soap` and answers with a result of the same size as bench/bare_spyne.py does (one
// ResponseProcessingFulfillLine per input line, the other fields xsi:nil), doing no other
// work. PROCESSES workers of node's cluster module share PORT on 127.0.0.1.
//
//   NODE_PATH=<dir>/node_modules PORT=8000 WSDL=wsdl/....wsdl PROCESSES=2 node server.js
"use strict";

const cluster = require("node:cluster");
const fs = require("node:fs");
const http = require("node:http");

const PORT = Number(process.env.PORT || 8000);
const PROCESSES = Number(process.env.PROCESSES || 2);
const PATH = "/fscmService/OrderFulfillmentResponseService";
const XSI = "http://www.w3.org/2001/XMLSchema-instance";

// node-soap leaves the children of `result` in the types namespace; the WSDL puts them in
// tns, the service namespace (declared on its envelope), so the keys carry the prefix.
function fulfillLine(ln) {
  return {
    "tns:ExtendedFulfillmentLineNumber": null,
    "tns:ExternalInteractionKey": null,
    "tns:FulfillLineIdentifier": ln.FulfillLineIdentifier,
    "tns:FulfillLineNumber": null,
    "tns:FulfillmentSplitReferenceIdentifier": null,
    "tns:FulfillmentSystemInteractionIdentifier": null,
    "tns:LineNumber": null,
    "tns:OrderNumber": null,
    "tns:SplitFromExternalInteractionKey": null,
    "tns:StatusCode": "SUCCESS",
    "tns:TaskInstanceStatusCode": "AWAIT_BILLING",
  };
}

function respond(args) {
  const lines = args.fulfillLineList;
  const list = lines == null ? [] : Array.isArray(lines) ? lines : [lines];
  const header = args.responseMessageHeader || {};
  return {
    result: {
      "tns:ErrorMessageName": null,
      "tns:ErrorMessageText": null,
      "tns:FulfillmentSystemResponseIdentifier": header.FulfillmentSystemResponseIdentifier,
      "tns:OverallStatusCode": "SUCCESS",
      "tns:ResponseProcessingFulfillLine": list.map(fulfillLine),
    },
  };
}

const service = {
  OrderFulfillmentResponseService: {
    OrderFulfillmentResponseServiceSoapHttpPort: {
      processAcknowledgement: () => ({}),
      processFulfillmentResponse: respond,
      stageFulfillmentResponse: respond,
    },
  },
};

function worker() {
  const soap = require("soap");
  const xml = fs.readFileSync(process.env.WSDL, "utf8");
  const server = http.createServer((req, res) => {
    // node-soap answers only its own path; anything else is ours to refuse.
    res.statusCode = 404;
    res.end();
  });
  server.keepAliveTimeout = 60000;
  soap.listen(server, {
    path: PATH,
    services: service,
    xml,
    enableChunkedEncoding: false, // res.end(body): Content-Length, as the other servers send
    suppressStack: true,
    callback: (err, srv) => {
      if (err) throw err;
      // node-soap writes xsi:nil but leaves w3.org namespaces out of its envelope.
      srv.wsdl.xmlnsInEnvelope += ` xmlns:xsi="${XSI}"`;
      server.listen(PORT, "127.0.0.1");
    },
  });
}

if (cluster.isPrimary) {
  let stopping = false;
  let exitCode = 0;
  const shutdown = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill("SIGTERM");
  };
  cluster.on("exit", (_w, code, signal) => {
    if (!stopping) {
      console.error(`node-soap worker exited (${signal || code}); stopping`);
      exitCode = 1;
    }
    shutdown();
    if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
  });
  for (let i = 0; i < PROCESSES; i++) cluster.fork();
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  // Stops by itself even if nobody stops it (benchmarks are bounded).
  setTimeout(shutdown, Number(process.env.MAX_SECONDS || 3600) * 1000).unref();
} else {
  process.on("disconnect", () => process.exit(0)); // the primary is gone
  worker();
}
