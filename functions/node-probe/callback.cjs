// A CommonJS module with a callback handler (Handler: callback.handle). A "raise" command
// throws from the handler itself; otherwise the result goes to the callback, and with
// context.callbackWaitsForEmptyEventLoop (the default) the response waits for the timers the
// handler left.
const probe = require("./probe.cjs");

exports.handle = function (event, context, callback) {
  if (probe.commands(event).some(({ command }) => command.do === "raise")) {
    throw new probe.RuntimeError("asked to raise");
  }
  probe.processBatch(event, context).then(
    (result) => callback(null, result),
    (error) => callback(error),
  );
};
