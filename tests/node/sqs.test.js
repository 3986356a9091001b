// The AWS SDK for JavaScript v3 (@aws-sdk/client-sqs, JSON protocol) against a real
// `lockgate emulator` process on 127.0.0.1:0.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import {
  SQSClient, CreateQueueCommand, SendMessageCommand, SendMessageBatchCommand, ReceiveMessageCommand,
  DeleteMessageBatchCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ChangeMessageVisibilityCommand,
  QueueDoesNotExist, StartMessageMoveTaskCommand, ListDeadLetterSourceQueuesCommand,
} from "@aws-sdk/client-sqs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const binary = process.env.LOCKGATE_BIN ?? path.join(root, "target", "debug", "lockgate");
let child;
let sqs;

before(async () => {
  child = spawn(binary, ["emulator", "--in-memory", "--bind", "127.0.0.1:0"], {
    env: { ...process.env, NO_COLOR: "1", LOCKGATE_LOG: "info" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const endpoint = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stderr });
    lines.on("line", (line) => {
      const m = line.match(/ready on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`emulator exited with ${code}`)));
  });
  sqs = new SQSClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
});

after(() => {
  sqs?.destroy();
  child?.kill("SIGTERM");
});

test("standard queue: attributes, batches, visibility, delete (the SDK checks MD5s)", async () => {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: "node-q", Attributes: { VisibilityTimeout: "40" } }));
  const sent = await sqs.send(new SendMessageCommand({
    QueueUrl, MessageBody: "hello from node",
    MessageAttributes: { kind: { DataType: "String", StringValue: "greeting" }, n: { DataType: "Number", StringValue: "7" } },
  }));
  assert.match(sent.MessageId, /^[0-9a-f-]{36}$/);
  const batch = await sqs.send(new SendMessageBatchCommand({
    QueueUrl, Entries: [0, 1, 2].map((i) => ({ Id: `e${i}`, MessageBody: `batch ${i}` })),
  }));
  assert.equal(batch.Successful.length, 3);
  const got = await sqs.send(new ReceiveMessageCommand({
    QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"], MessageSystemAttributeNames: ["All"],
  }));
  assert.equal(got.Messages.length, 4);
  const first = got.Messages.find((m) => m.Body === "hello from node");
  assert.equal(first.MessageAttributes.kind.StringValue, "greeting");
  assert.equal(first.Attributes.ApproximateReceiveCount, "1");
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle, VisibilityTimeout: 0 }));
  const del = await sqs.send(new DeleteMessageBatchCommand({
    QueueUrl, Entries: got.Messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
  }));
  assert.equal(del.Successful.length, 4);
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["All"] }));
  assert.equal(attrs.Attributes.VisibilityTimeout, "40");
  assert.equal(attrs.Attributes.ApproximateNumberOfMessages, "0");
});

test("FIFO order and deduplication", async () => {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({
    QueueName: "node-q.fifo", Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
  }));
  for (const body of ["1", "2", "3", "1"]) {
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: "g" }));
  }
  const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
  assert.deepEqual(got.Messages.map((m) => m.Body), ["1", "2", "3"]);
});

test("errors are the SDK's typed exceptions", async () => {
  await assert.rejects(sqs.send(new GetQueueUrlCommand({ QueueName: "nope" })), (e) => {
    assert.ok(e instanceof QueueDoesNotExist, `${e.name}`);
    assert.equal(e.$metadata.httpStatusCode, 400);
    return true;
  });
});

test("dead-letter queue and a message move task back to the source", async () => {
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: "node-dlq" }))).QueueUrl;
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ["QueueArn"] }))).Attributes.QueueArn;
  const src = (await sqs.send(new CreateQueueCommand({
    QueueName: "node-src",
    Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) },
  }))).QueueUrl;
  await sqs.send(new SendMessageCommand({ QueueUrl: src, MessageBody: "poison" }));
  await sqs.send(new ReceiveMessageCommand({ QueueUrl: src, VisibilityTimeout: 0 }));
  const none = await sqs.send(new ReceiveMessageCommand({ QueueUrl: src }));
  assert.equal(none.Messages, undefined);
  const sources = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }));
  assert.deepEqual(sources.queueUrls, [src]);
  const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: dlqArn }));
  assert.ok(task.TaskHandle);
  let back;
  for (let i = 0; i < 60 && !back; i++) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: src, WaitTimeSeconds: 1 }));
    back = got.Messages?.[0];
  }
  assert.equal(back?.Body, "poison");
});
