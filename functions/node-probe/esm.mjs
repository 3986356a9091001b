// An ES module with an async handler (Handler: esm.handle).
import probe from "./probe.cjs";

export const handle = async (event, context) => probe.processBatch(event, context);
