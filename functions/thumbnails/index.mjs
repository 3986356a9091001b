// Plans a thumbnail for each job (Node.js, Runtime nodejs22.x, an ES module). A job that is not
// {"image": "…", "width": positive integer} fails alone (ReportBatchItemFailures): SQS
// redelivers it, and after maxReceiveCount it lands in thumbnails-dlq.

function plan(body) {
  const job = JSON.parse(body);
  if (typeof job.image !== "string" || !Number.isInteger(job.width) || job.width <= 0) {
    throw new Error("a job is {\"image\": \"…\", \"width\": positive integer}");
  }
  return `thumbnail of ${job.image} at ${job.width}px`;
}

export const handler = async (event) => {
  const batchItemFailures = [];
  for (const record of event.Records) {
    try {
      console.log(plan(record.body));
    } catch (error) {
      console.log(`message ${record.messageId} failed: ${error.message}`);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
