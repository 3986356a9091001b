// The Node.js twin of functions/probe, shared by esm.mjs (async handler) and callback.cjs
// (callback handler). Each message body is a JSON command: {"do":"ok"}, {"do":"fail"}
// (reported in batchItemFailures), {"do":"raise"} (the handler throws: the batch fails),
// {"do":"spawn","ms":N} (starts a long-lived child, then waits), {"do":"late"} (schedules a
// log line after the handler has answered). Completed messages are appended to $PROBE_LOG as
// `done <id> <body> <group> <attempt>`; each invocation logs `context <json>`.

const fs = require("node:fs");
const { spawn } = require("node:child_process");
const isNumber = require("is-number"); // from package.json

const ENVIRONMENT = [
  "AWS_EXECUTION_ENV",
  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
  "AWS_LAMBDA_FUNCTION_NAME",
  "AWS_LAMBDA_FUNCTION_VERSION",
  "AWS_LAMBDA_LOG_GROUP_NAME",
  "AWS_LAMBDA_LOG_STREAM_NAME",
  "AWS_LAMBDA_RUNTIME_API",
  "AWS_REGION",
  "LAMBDA_TASK_ROOT",
  "TZ",
  "_HANDLER",
  "GREETING",
];

class RuntimeError extends Error {
  constructor(message) {
    super(message);
    this.name = "RuntimeError";
  }
}

function append(line) {
  fs.appendFileSync(process.env.PROBE_LOG, line + "\n");
}

function commands(event) {
  return event.Records.map((record) => ({ record, command: JSON.parse(record.body) }));
}

function logContext(event, context) {
  append(`batch ${event.Records.length}`);
  append(
    "context " +
      JSON.stringify({
        aws_request_id: context.awsRequestId,
        function_name: context.functionName,
        function_version: context.functionVersion,
        memory_limit_in_mb: String(context.memoryLimitInMB),
        invoked_function_arn: context.invokedFunctionArn,
        log_group_name: context.logGroupName,
        remaining_ms: context.getRemainingTimeInMillis(),
        dependency: isNumber(42),
        environment: Object.fromEntries(ENVIRONMENT.map((k) => [k, process.env[k] ?? null])),
      }),
  );
}

async function processBatch(event, context) {
  logContext(event, context);
  const failures = [];
  const failedGroups = new Set();
  for (const { record, command } of commands(event)) {
    const group = record.attributes.MessageGroupId;
    if (group !== undefined && failedGroups.has(group)) {
      failures.push({ itemIdentifier: record.messageId });
      continue;
    }
    if (command.do === "fail") {
      failures.push({ itemIdentifier: record.messageId });
      if (group !== undefined) failedGroups.add(group);
      continue;
    }
    if (command.do === "raise") throw new RuntimeError("asked to raise");
    if (command.do === "spawn") {
      const child = spawn("sleep", ["600"], { stdio: "ignore" });
      append(`spawned ${child.pid}`);
      await new Promise((resolve) => setTimeout(resolve, command.ms ?? 0));
    }
    if (command.do === "late") {
      setTimeout(() => append(`late ${record.messageId}`), 300);
    }
    const attempt = record.attributes.ApproximateReceiveCount;
    append(`done ${record.messageId} ${record.body} ${group ?? "-"} ${attempt}`);
  }
  return { batchItemFailures: failures };
}

module.exports = { processBatch, RuntimeError, commands };
