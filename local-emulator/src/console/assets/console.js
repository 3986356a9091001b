// The Lockgate console: a hash-routed page over the JSON API under /console/api/
// (docs/console.md). Everything from the server is put into the page as text, never as HTML:
// message bodies and log lines are data a sender controls.
"use strict";

const API = "/console/api/";
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let refreshTimer = null;
let currentView = null;

// el("td", {class: "num"}, "text", child, …): attributes are set as properties or attributes,
// children are strings (text nodes) or nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

class ApiError extends Error {
  constructor(type, message, status) {
    super(message);
    this.type = type;
    this.status = status;
  }
}

async function api(path, options) {
  const init = Object.assign({ headers: {} }, options || {});
  if (init.json !== undefined) {
    init.method = init.method || "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(init.json);
    delete init.json;
  }
  const response = await fetch(API + path, init);
  const text = await response.text();
  let body = {};
  try { body = text ? JSON.parse(text) : {}; } catch (e) { body = { message: text }; }
  if (!response.ok) {
    const type = (body.__type || "Error").split("#").pop();
    throw new ApiError(type, body.message || response.statusText, response.status);
  }
  return body;
}

function queuePath(q) {
  return "queues/" + [q.region, q.account, q.name].map(encodeURIComponent).join("/");
}
function queueHash(q) {
  return "#/queue/" + [q.region, q.account, q.name].map(encodeURIComponent).join("/");
}
function fmtTime(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "";
}
function fmtAge(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}
function fmtMs(ms) {
  return ms === null || ms === undefined ? "–" : ms < 10 ? ms.toFixed(1) + " ms" : Math.round(ms) + " ms";
}
function notice(text, bad) {
  return el("div", { class: bad ? "notice bad" : "notice", role: bad ? "alert" : "status" }, text);
}
function errorText(e) {
  return e instanceof ApiError ? e.type + ": " + e.message : String(e);
}
function stat(label, value, id) {
  return el("div", { class: "stat" }, el("b", { id }, value), el("span", {}, label));
}

// ---- views ---------------------------------------------------------------------------------

// Queues: every queue with its depths, and the app's mappings when `lockgate up` runs one.
const queuesView = {
  mount() {
    this.table = el("div", { id: "queues" });
    this.mappings = el("div", { id: "mappings" });
    main.replaceChildren(el("h1", {}, "Queues"), this.table, this.mappings);
  },
  async refresh() {
    const [{ queues }, { app }] = await Promise.all([api("queues"), api("app")]);
    const rows = queues.map((q) =>
      el("tr", { "data-queue": q.name },
        el("td", {}, el("a", { href: queueHash(q), class: "queue-link" }, q.name), q.fifo ? " " : "", q.fifo ? el("span", { class: "tag" }, "FIFO") : ""),
        el("td", { class: "num visible" }, q.visible),
        el("td", { class: "num" }, q.inFlight),
        el("td", { class: "num" }, q.delayed),
        el("td", { class: "num" }, fmtAge(q.oldestAgeSeconds)),
        el("td", { class: "num" }, q.sent),
        el("td", { class: "num" }, q.received),
        el("td", { class: "num" }, q.deleted),
        el("td", {}, q.redrive ? el("a", { href: queueHash({ region: q.region, account: q.account, name: q.redrive.deadLetterQueue }) }, q.redrive.deadLetterQueue) : "",
          q.redrive ? el("span", { class: "muted" }, " after " + q.redrive.maxReceiveCount) : "",
          q.deadLetterSources.length ? el("span", { class: "tag" }, "DLQ of " + q.deadLetterSources.join(", ")) : ""),
        el("td", { class: "muted" }, q.region)));
    this.table.replaceChildren(queues.length
      ? el("table", {},
          el("thead", {}, el("tr", {}, ["Queue", "Visible", "In flight", "Delayed", "Oldest", "Sent", "Received", "Deleted", "Dead-letter", "Region"]
            .map((h, i) => el("th", { class: i > 0 && i < 8 ? "num" : "" }, h)))),
          el("tbody", {}, rows))
      : el("p", { class: "muted" }, "No queues yet."));
    this.mappings.replaceChildren(...(app ? [el("h2", {}, "Mappings"), mappingsTable(app)] : []));
  },
};

function mappingsTable(app) {
  const rows = [];
  for (const f of app.functions) {
    for (const m of f.mappings) {
      rows.push(el("tr", { "data-function": f.name, "data-queue": m.queue },
        el("td", {}, el("a", { href: "#/function/" + encodeURIComponent(f.name) }, f.name), " ", el("span", { class: "tag" }, f.kind)),
        el("td", {}, m.queue),
        el("td", { class: m.state === "running" ? "ok" : "muted" }, m.state),
        el("td", { class: "num", title: "running / target / maximum" },
          m.concurrency + " / " + m.targetConcurrency + " / " + m.maxConcurrency),
        el("td", { class: "num" }, m.invocationsPerSecond.toFixed(1)),
        el("td", { class: "num" }, m.invocations),
        el("td", { class: "num ok" }, m.messagesOk),
        el("td", { class: "num " + (m.messagesFailed ? "bad" : "") }, m.messagesFailed),
        el("td", { class: "num" }, fmtMs(m.p50Ms)),
        el("td", { class: "num" }, fmtMs(m.p99Ms))));
    }
  }
  return el("table", { id: "mapping-table" },
    el("thead", {}, el("tr", {}, ["Function", "Queue", "State", "Concurrency (now / target / max)", "Inv/s", "Invocations", "OK", "Failed", "p50", "p99"]
      .map((h, i) => el("th", { class: i > 2 ? "num" : "" }, h)))),
    el("tbody", {}, rows));
}

// One queue: its figures and attributes, its messages (browsed, never received), send,
// purge, and redrive when it is a dead-letter queue.
function queueView(region, account, name) {
  const q = { region, account, name };
  const path = queuePath(q);
  return {
    mount() {
      this.stats = el("div", { class: "row", id: "queue-stats" });
      this.messages = el("div", { id: "messages" });
      this.attrs = el("div", { id: "attributes" });
      this.feedback = el("div", { id: "feedback" });
      this.redriveBox = el("div", { id: "redrive-box" });
      const body = el("textarea", { id: "send-body", placeholder: "Message body" });
      const group = el("input", { type: "text", id: "send-group", placeholder: "MessageGroupId (FIFO)" });
      const sendButton = el("button", { class: "primary", id: "send", onclick: async () => {
        const request = { MessageBody: body.value };
        if (group.value) request.MessageGroupId = group.value;
        if (this.fifo) request.MessageDeduplicationId = String(Date.now()) + Math.random().toString(16).slice(2);
        await this.act(() => api(path + "/messages", { json: request }), (r) => "Sent message " + r.MessageId);
        body.value = "";
      } }, "Send");
      const purgeButton = el("button", { class: "danger", id: "purge", onclick: async () => {
        if (!window.confirm("Delete every message in " + name + "?")) return;
        await this.act(() => api(path + "/purge", { method: "POST" }), () => "Purged " + name);
      } }, "Purge");
      main.replaceChildren(
        el("h1", {}, el("a", { href: "#/" }, "Queues"), " / ", el("span", { id: "queue-name" }, name)),
        this.stats, this.feedback,
        el("div", { class: "card" }, el("h2", {}, "Send a message"), body,
          el("div", { class: "row" }, group, sendButton, el("span", { style: "flex:1" }), purgeButton)),
        this.redriveBox,
        el("h2", {}, "Messages ", el("span", { class: "muted" }, "(browsed: their receive count and visibility do not change)")),
        this.messages, el("h2", {}, "Attributes"), this.attrs);
    },
    async act(call, describe) {
      try {
        const result = await call();
        this.feedback.replaceChildren(notice(describe(result)));
      } catch (e) {
        this.feedback.replaceChildren(notice(errorText(e), true));
      }
      await this.refresh();
    },
    async refresh() {
      const [info, { messages }] = await Promise.all([api(path), api(path + "/messages?limit=50")]);
      this.fifo = info.fifo;
      this.stats.replaceChildren(
        stat("visible", info.visible, "stat-visible"), stat("in flight", info.inFlight, "stat-inflight"),
        stat("delayed", info.delayed, "stat-delayed"), stat("oldest", fmtAge(info.oldestAgeSeconds)),
        stat("sent", info.sent), stat("received", info.received), stat("deleted", info.deleted));
      this.messages.replaceChildren(messages.length
        ? el("table", { id: "message-table" },
            el("thead", {}, el("tr", {}, ["Message", "State", "Receives", "Sent", "Body and attributes"].map((h) => el("th", {}, h)))),
            el("tbody", {}, messages.map((m) => el("tr", { class: "message", "data-message-id": m.messageId },
              el("td", {}, el("code", {}, m.messageId || "(unreadable)"), m.messageGroupId ? el("div", { class: "muted" }, "group " + m.messageGroupId) : ""),
              el("td", {}, el("span", { class: "tag " + m.state.replace(" ", "") }, m.state)),
              el("td", { class: "num receive-count" }, m.approximateReceiveCount),
              el("td", { class: "muted" }, fmtTime(m.sentTimestamp)),
              el("td", {}, m.unreadable ? el("p", { class: "bad unreadable" }, "Cannot be read: " + m.unreadable) : el("pre", { class: "body" }, m.body),
                Object.entries(m.messageAttributes || {}).map(([k, v]) =>
                  el("div", { class: "muted" }, k + " (" + v.DataType + "): " + (v.StringValue !== undefined ? v.StringValue : v.BinaryValue))))))))
        : el("p", { class: "muted", id: "no-messages" }, "No messages."));
      const attrs = Object.entries(info.attributes);
      this.attrs.replaceChildren(el("dl", { class: "attrs" }, attrs.map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
        el("p", { class: "muted" }, info.url));
      if (info.deadLetterSources.length) {
        const { Results } = await api(path + "/redrive");
        const tasks = Results || [];
        const button = el("button", { class: "primary", id: "redrive", onclick: () =>
          this.act(() => api(path + "/redrive", { json: {} }), () => "Redrive started") }, "Redrive to " + info.deadLetterSources.join(", "));
        this.redriveBox.replaceChildren(el("div", { class: "card" }, el("h2", {}, "Dead-letter queue"),
          el("p", {}, "Messages that failed in " + info.deadLetterSources.join(", ") + " land here. A redrive moves them back to the queue they came from."),
          button,
          tasks.length ? el("table", { id: "move-tasks" },
            el("thead", {}, el("tr", {}, ["Started", "Status", "Moved", "Of"].map((h) => el("th", {}, h)))),
            el("tbody", {}, tasks.map((t) => el("tr", {},
              el("td", {}, fmtTime(t.StartedTimestamp)),
              el("td", { class: "task-status" }, t.Status, t.FailureReason ? " — " + t.FailureReason : ""),
              el("td", { class: "num task-moved" }, t.ApproximateNumberOfMessagesMoved),
              el("td", { class: "num" }, t.ApproximateNumberOfMessagesToMove))))) : ""));
      } else {
        this.redriveBox.replaceChildren();
      }
    },
  };
}

// Functions: every function's mappings, recent failures and live log.
const functionsView = {
  mount() {
    this.box = el("div", { id: "functions" });
    main.replaceChildren(el("h1", {}, "Functions"), this.box);
  },
  async refresh() {
    const { app } = await api("app");
    this.box.replaceChildren(app
      ? mappingsTable(app)
      : notice("No app is running on this emulator: `lockgate up` runs a template's functions and shows them here."));
  },
};

function functionView(name) {
  return {
    mount() {
      this.next = 0;
      this.mapping = el("div", { id: "function-mappings" });
      this.failures = el("div", { id: "failures" });
      this.log = el("pre", { class: "log", id: "log" });
      main.replaceChildren(el("h1", {}, el("a", { href: "#/functions" }, "Functions"), " / ", name),
        this.mapping, el("h2", {}, "Recent failures"), this.failures, el("h2", {}, "Log ", el("span", { class: "muted" }, "(live)")), this.log);
    },
    async refresh() {
      const [{ app }, logs] = await Promise.all([api("app"), api("functions/" + encodeURIComponent(name) + "/logs?after=" + this.next)]);
      const f = app && app.functions.find((x) => x.name === name);
      if (!f) {
        this.mapping.replaceChildren(notice("No function " + name + " is running.", true));
        return;
      }
      this.mapping.replaceChildren(mappingsTable({ functions: [f] }));
      this.failures.replaceChildren(f.recentFailures.length
        ? el("div", {}, f.recentFailures.slice().reverse().map((x) => el("div", { class: "card failure" },
            el("div", {}, el("b", { class: "bad" }, x.error), " ", el("span", { class: "muted" }, fmtTime(x.at) + " · " + x.queue + " · " + x.messages + " message(s)")),
            x.logs.length ? el("pre", { class: "log failure-log" }, x.logs.join("\n")) : el("p", { class: "muted" }, "The function printed nothing during this invocation."))))
        : el("p", { class: "muted", id: "no-failures" }, "No failures."));
      const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 4;
      for (const line of logs.lines) this.log.append(document.createTextNode(fmtTime(line.at) + "  " + line.line + "\n"));
      this.next = logs.next;
      if (atBottom) this.log.scrollTop = this.log.scrollHeight;
    },
  };
}

// ---- routing -------------------------------------------------------------------------------

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  document.querySelectorAll("header nav a").forEach((a) => a.classList.remove("active"));
  if (parts[0] === "queue" && parts.length === 4) {
    document.getElementById("nav-queues").classList.add("active");
    return queueView(parts[1], parts[2], parts[3]);
  }
  if (parts[0] === "functions") {
    document.getElementById("nav-functions").classList.add("active");
    return functionsView;
  }
  if (parts[0] === "function" && parts.length === 2) {
    document.getElementById("nav-functions").classList.add("active");
    return functionView(parts[1]);
  }
  document.getElementById("nav-queues").classList.add("active");
  return queuesView;
}

async function tick(view) {
  if (view !== currentView) return;
  try {
    await view.refresh();
    statusLine.textContent = "updated " + new Date().toLocaleTimeString();
    statusLine.dataset.state = "ok";
  } catch (e) {
    statusLine.textContent = errorText(e);
    statusLine.dataset.state = "error";
  }
  if (view === currentView) refreshTimer = setTimeout(() => tick(view), 1500);
}

function show() {
  clearTimeout(refreshTimer);
  currentView = route();
  currentView.mount();
  tick(currentView);
}

window.addEventListener("hashchange", show);
show();
