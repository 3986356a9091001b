// A TypeScript function for the end-to-end tests, bundled by esbuild (`BuildMethod: esbuild`).
// Each body is a probe command ({"do":"ok"|"fail"}); completed messages are appended to
// $PROBE_LOG as `done <id> <body> - <attempt>`, and each invocation logs `context <json>`.
import { appendFileSync } from "node:fs";
import isNumber from "is-number";

interface SqsRecord {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
}

interface SqsEvent {
  Records: SqsRecord[];
}

interface Command {
  do: "ok" | "fail";
}

const append = (line: string): void => appendFileSync(process.env.PROBE_LOG as string, `${line}\n`);

export const handler = async (
  event: SqsEvent,
): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> => {
  append(`context ${JSON.stringify({ bundled: __filename, dependency: isNumber(42) })}`);
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of event.Records) {
    const command = JSON.parse(record.body) as Command;
    if (command.do === "fail") {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    append(`done ${record.messageId} ${record.body} - ${record.attributes.ApproximateReceiveCount}`);
  }
  return { batchItemFailures };
};
