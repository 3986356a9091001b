// Lockgate's bootstrap for Node.js functions: the Lambda Runtime API loop that AWS's Node.js
// runtime runs, with nothing but Node itself (node:http, dynamic import). It loads `_HANDLER`
// (`file.export`, the file relative to the task root, `.js` / `.mjs` / `.cjs`, ES module or
// CommonJS), calls it with each event and a Lambda context — awaiting a returned promise, or
// the callback for `(event, context, callback)` handlers — and reports results and errors as
// Lambda does.

import { createHook } from "node:async_hooks";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [host, port] = (process.env.AWS_LAMBDA_RUNTIME_API ?? "").split(":");
// One keep-alive connection to the Runtime API: node:http costs less per call than fetch.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One Runtime API call; resolves with the status, headers and body (a string). */
function call(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host,
        port,
        method,
        path: `/2018-06-01/runtime${path}`,
        agent,
        headers: body === undefined ? headers : { ...headers, "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
const root = process.env.LAMBDA_TASK_ROOT ?? process.cwd();

function errorBody(error) {
  const e = error instanceof Error ? error : new Error(String(error));
  return JSON.stringify({
    errorType: e.name ?? "Error",
    errorMessage: e.message,
    trace: String(e.stack ?? "").split("\n"),
  });
}

function logError(error) {
  const e = error instanceof Error ? error : new Error(String(error));
  console.error(`[ERROR] ${e.name}: ${e.message}\n${e.stack ?? ""}`);
}

async function post(to, body, headers = {}) {
  await call("POST", to, body, headers);
}

async function loadHandler() {
  const name = process.env._HANDLER ?? "";
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) {
    throw Object.assign(new Error(`Bad handler ${name}: expected file.export`), {
      name: "Runtime.MalformedHandlerName",
    });
  }
  const file = path.resolve(root, name.slice(0, dot));
  const exported = name.slice(dot + 1);
  const found = [".js", ".mjs", ".cjs"].map((ext) => file + ext).find((f) => fs.existsSync(f));
  if (!found) {
    throw Object.assign(new Error(`Cannot find module '${name.slice(0, dot)}'`), {
      name: "Runtime.ImportModuleError",
    });
  }
  const module = await import(pathToFileURL(found).href);
  const handler = module[exported] ?? module.default?.[exported];
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${name} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
  return handler;
}

function contextOf(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] ?? 0);
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME ?? "",
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? "$LATEST",
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"] ?? "",
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "128",
    awsRequestId: headers["lambda-runtime-aws-request-id"] ?? "",
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? "",
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? "",
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

// Timers and immediates the function created during an invocation, until they have run (or
// been cleared): with callbackWaitsForEmptyEventLoop (the default), a callback handler's
// response waits for them, as Lambda waits for an empty event loop.
const pending = new Set();
let tracking = false;
let drained = null;
createHook({
  init(id, type) {
    if (tracking && (type === "Timeout" || type === "Immediate")) pending.add(id);
  },
  destroy(id) {
    if (pending.delete(id) && pending.size === 0 && drained) drained();
  },
}).enable();

async function untilTimersRan() {
  if (pending.size > 0) await new Promise((resolve) => (drained = resolve));
  drained = null;
}

function invoke(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== null && error !== undefined) reject(error);
      else resolve({ result, viaCallback: true });
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (error) => callback(error ?? new Error("failed"));
    try {
      const returned = handler(event, context, callback);
      if (returned && typeof returned.then === "function") {
        returned.then((result) => {
          if (!settled) {
            settled = true;
            resolve({ result, viaCallback: false });
          }
        }, callback);
      } else if (handler.length < 3 && !settled) {
        settled = true;
        resolve({ result: returned, viaCallback: false });
      }
    } catch (error) {
      callback(error);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler();
  } catch (error) {
    logError(error);
    await post("/init/error", errorBody(error), {
      "Lambda-Runtime-Function-Error-Type": error.name ?? "Runtime.Unknown",
    });
    process.exit(1);
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const event = JSON.parse(next.body || "null");
    const context = contextOf(next.headers);
    const trace = next.headers["lambda-runtime-trace-id"];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    const id = context.awsRequestId;
    pending.clear();
    tracking = true;
    try {
      const { result, viaCallback } = await invoke(handler, event, context);
      if (viaCallback && context.callbackWaitsForEmptyEventLoop) await untilTimersRan();
      tracking = false;
      await post(`/invocation/${id}/response`, JSON.stringify(result ?? null));
    } catch (error) {
      tracking = false;
      logError(error);
      await post(`/invocation/${id}/error`, errorBody(error), {
        "Lambda-Runtime-Function-Error-Type": "Unhandled",
      });
    }
  }
}

await main();
