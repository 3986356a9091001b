// A Node.js function that does nothing, for the runtime benchmark.
export const handler = async () => ({ batchItemFailures: [] });
