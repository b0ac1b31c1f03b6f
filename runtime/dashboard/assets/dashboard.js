// The taskrt dashboard page: polls the dashboard's JSON API and renders queues, tasks and dead
// letters. No framework and no build step; every value from the server goes in as text, never HTML.
"use strict";

const TOKEN_KEY = "taskrt-dashboard-token";
const PAGE = 25;

/**
 * The address `taskrt run` prints carries the token in its fragment (#token=…), which the browser
 * never sends to a server. Kept for this tab and taken out of the address bar, so it is not
 * bookmarked, shared with a copied link or left on screen.
 */
function takeTokenFromAddress() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (token === null) return;
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  history.replaceState(null, "", location.pathname + location.search);
}

takeTokenFromAddress();

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  refreshMs: 2000,
  overview: null,
  status: "",
  tasksOffset: 0,
  deadQueue: "",
  deadOffset: 0,
  messagesQueue: "",
  messagesState: "in_flight",
  messagesOrder: "oldest",
  messagesOffset: 0,
  openTask: "",
  timer: 0,
  locked: false,
};

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const headers = { "x-taskrt-dashboard": "1", ...(options.body ? { "content-type": "application/json" } : {}) };
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { ...options, headers, cache: "no-store" });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.status === 401) {
    showLogin(body && body.error);
    throw new ApiError(401, (body && body.error) || "a bearer token is required");
  }
  if (!response.ok) throw new ApiError(response.status, (body && body.error) || `HTTP ${response.status}`);
  return body;
}

// ---- formatting -------------------------------------------------------------------------------

/** Milliseconds since the epoch in a column named like a time; PostgreSQL's BIGINT may arrive as text. */
function isTimestampColumn(column, value) {
  const number = typeof value === "string" && /^\d{12,14}$/.test(value) ? Number(value) : value;
  return /(_at|At|time|date)$/.test(column) && typeof number === "number" && number > 1e11 && number < 1e14;
}

function formatTime(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

function shortText(value, max = 80) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function cellValue(column, value, statusColumn) {
  if (value === null || value === undefined) return element("span", { class: "muted", text: "—" });
  if (column === statusColumn) return element("span", { class: `status status-${String(value).replace(/[^a-z0-9_-]/gi, "")}`, text: String(value) });
  if (isTimestampColumn(column, value)) return element("time", { datetime: new Date(Number(value)).toISOString(), text: formatTime(Number(value)) });
  return document.createTextNode(shortText(value));
}

/** JSON text (as tasks store payloads and results) shown pretty; other values as they are. */
function fullValue(column, value) {
  if (value === null || value === undefined) return element("span", { class: "muted", text: "—" });
  if (isTimestampColumn(column, value)) return element("time", { datetime: new Date(Number(value)).toISOString(), text: `${formatTime(Number(value))} (${value})` });
  if (typeof value === "string" && /^\s*[[{]/.test(value)) {
    try {
      return element("pre", { text: JSON.stringify(JSON.parse(value), null, 2) });
    } catch {
      // not JSON after all
    }
  }
  if (typeof value === "object") return element("pre", { text: JSON.stringify(value, null, 2) });
  return element("span", { class: String(value).length > 40 ? "mono" : "", text: String(value) });
}

function range(offset, count, total) {
  if (total === 0) return "none";
  return `${offset + 1}–${offset + count} of ${total.toLocaleString()}`;
}

/** `<name>-pager` with its range and Newer/Older buttons; hidden when everything fits on one page. */
function renderPager(name, offset, count, total) {
  $(`${name}-range`).textContent = range(offset, count, total);
  $(`${name}-pager`).hidden = offset === 0 && total <= count;
  $(`${name}-newer`).disabled = offset === 0;
  $(`${name}-older`).disabled = offset + count >= total;
}

function bindPager(name, offsetKey) {
  $(`${name}-newer`).addEventListener("click", () => {
    state[offsetKey] = Math.max(0, state[offsetKey] - PAGE);
    refresh();
  });
  $(`${name}-older`).addEventListener("click", () => {
    state[offsetKey] += PAGE;
    refresh();
  });
}

function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (node.hidden = true), 3500);
}

function setLive(on, text) {
  const live = $("live");
  live.className = `live ${on ? "on" : "off"}`;
  live.textContent = text;
}

// ---- login ------------------------------------------------------------------------------------

function showLogin(reason) {
  state.locked = true;
  clearTimeout(state.timer);
  $("login").hidden = false;
  $("login-reason").textContent = state.token && reason ? `${reason}. Enter the token again.` : reason || "This dashboard asks for a bearer token.";
  setLive(false, "locked");
  $("token").focus();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $("login").hidden = true;
  state.locked = false;
  refresh();
});

// ---- queues -----------------------------------------------------------------------------------

function renderQueues(overview) {
  const cards = overview.queues.map((queue) => {
    const counts = element("dl", { class: "counts" });
    for (const [key, label] of [["ready", "ready"], ["inFlight", "in flight"], ["delayed", "delayed"], ["dead", "dead"]]) {
      const value = queue[key];
      counts.append(
        element("div", { "data-count": key, class: key === "dead" && value > 0 ? "has-dead" : "" }, element("dt", { text: label }), element("dd", { text: value === undefined ? "–" : String(value) })),
      );
    }
    const pause =
      queue.paused === undefined
        ? null
        : element(
            "p",
            { class: "pause-row" },
            queue.paused ? element("span", { class: "paused-badge", text: "paused" }) : null,
            element("button", {
              type: "button",
              "data-action": queue.paused ? "resume" : "pause",
              text: queue.paused ? "Resume" : "Pause",
              title: queue.paused ? "Consumers take its messages again" : "Consumers stop taking its messages; publishes are still accepted",
              onclick: () => setPaused(queue.paused ? "resume" : "pause", queue.id),
            }),
          );
    return element(
      "article",
      { class: queue.paused ? "card paused" : "card", "data-queue": queue.id },
      element("h3", { text: queue.id }),
      element("p", { class: "driver", text: `${queue.driver} · ${queue.driverKind.replace("queue.driver.", "")}` }),
      queue.error ? element("p", { class: "error", text: queue.error }) : counts,
      pause,
    );
  });
  $("queues").replaceChildren(...cards);
  const consumers = overview.consumers.map((consumer) => `${consumer.id} (${consumer.state}, ×${consumer.concurrency})`);
  $("consumers").textContent = consumers.length ? `Consumers: ${consumers.join(" · ")}` : "No consumers.";
}

async function setPaused(action, queue) {
  try {
    await api(`api/queues/${action}`, { method: "POST", body: JSON.stringify({ queue }) });
    toast(action === "pause" ? `Paused ${queue}` : `Resumed ${queue}`);
  } catch (error) {
    toast(`Could not ${action} ${queue}: ${error.message}`);
  }
  refresh();
}

// ---- messages: in flight (with progress), waiting and delayed (promote, remove) -------------------

const MESSAGE_STATES = [
  ["in_flight", "in flight", "inFlight", "listsInFlight"],
  ["waiting", "waiting", "ready", "browses"],
  ["delayed", "delayed", "delayed", "browses"],
];

function renderMessageQueues(overview) {
  const listable = overview.queues.filter((queue) => MESSAGE_STATES.some(([, , , flag]) => queue[flag]));
  if (!listable.some((queue) => queue.id === state.messagesQueue)) {
    state.messagesQueue = (listable.find((queue) => queue.inFlight > 0) || listable[0] || { id: "" }).id;
    state.messagesOffset = 0;
  }
  $("messages-queue").replaceChildren(...listable.map((queue) => element("option", { value: queue.id, selected: queue.id === state.messagesQueue, text: queue.id })));
  const queue = listable.find((candidate) => candidate.id === state.messagesQueue);
  const states = MESSAGE_STATES.filter(([, , , flag]) => queue && queue[flag]);
  if (!states.some(([value]) => value === state.messagesState)) state.messagesState = (states[0] || ["in_flight"])[0];
  $("messages-states").replaceChildren(
    ...states.map(([value, label, count]) =>
      element("button", {
        type: "button",
        "data-state": value,
        "aria-pressed": String(state.messagesState === value),
        text: `${label} ${(queue[count] ?? 0).toLocaleString()}`,
        onclick: () => {
          state.messagesState = value;
          state.messagesOffset = 0;
          refresh();
        },
      }),
    ),
  );
  const browsing = state.messagesState !== "in_flight";
  $("messages-states").append(
    element("button", {
      type: "button",
      id: "messages-order",
      hidden: !browsing,
      "data-order": state.messagesOrder,
      text: state.messagesOrder === "oldest" ? "oldest first ↓" : "newest first ↓",
      title: "Order by publish time",
      onclick: () => {
        state.messagesOrder = state.messagesOrder === "oldest" ? "newest" : "oldest";
        state.messagesOffset = 0;
        refresh();
      },
    }),
  );
  const unlisted = overview.queues.filter((candidate) => !listable.includes(candidate) && !candidate.error);
  $("messages-note").textContent = unlisted.length ? `Not listed here: ${unlisted.map((candidate) => `${candidate.id} (${candidate.driverKind} cannot list its messages)`).join(", ")}.` : "";
}

$("messages-queue").addEventListener("change", (event) => {
  state.messagesQueue = event.target.value;
  state.messagesOffset = 0;
  refresh();
});

bindPager("messages", "messagesOffset");

/** A number is a percentage; {done, total} a fraction; any other object is shown as JSON. */
function progressCell(progress) {
  if (progress === undefined) return element("span", { class: "muted", text: "–" });
  const fraction =
    typeof progress === "number" ? progress / 100 : typeof progress.done === "number" && typeof progress.total === "number" && progress.total > 0 ? progress.done / progress.total : undefined;
  const text = typeof progress === "number" ? `${progress}%` : JSON.stringify(progress);
  if (fraction === undefined) return element("span", { class: "mono", "data-progress": text, text });
  const percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  return element(
    "span",
    { class: "progress", "data-progress": text },
    element("progress", { max: "100", value: String(percent), "aria-label": `${percent}%` }),
    element("span", { class: "mono", text }),
  );
}

async function changeMessage(action, queue, id) {
  if (action === "remove" && !window.confirm(`Remove message ${id} unprocessed?`)) return;
  try {
    await api(`api/messages/${action}`, { method: "POST", body: JSON.stringify({ queue, id }) });
    toast(action === "promote" ? `Promoted ${id}: it runs next` : `Removed ${id}`);
  } catch (error) {
    toast(`Could not ${action} ${id}: ${error.message}`);
  }
  refresh();
}

async function loadMessages() {
  const browsing = state.messagesState !== "in_flight";
  const columns = browsing ? ["id", "body", "attempts", "priority", state.messagesState === "delayed" ? "due" : "published", ""] : ["id", "body", "attempts", "progress", "published"];
  $("messages-head").replaceChildren(...columns.map((column) => element("th", { scope: "col", text: column })));
  if (!state.messagesQueue) {
    $("messages-body").replaceChildren(element("tr", {}, element("td", { colspan: String(columns.length), class: "muted", text: "No queue here lists its messages." })));
    $("messages-pager").hidden = true;
    return;
  }
  const query = new URLSearchParams({ queue: state.messagesQueue, state: state.messagesState, limit: String(PAGE), offset: String(state.messagesOffset) });
  if (browsing) query.set("order", state.messagesOrder);
  const page = await api(`api/messages?${query}`);
  const time = (value) => element("time", { datetime: value, text: formatTime(value) });
  const rows = page.messages.map((message) =>
    element(
      "tr",
      { "data-message-id": message.id },
      element("td", { "data-label": "id", class: "mono", text: shortText(message.id, 24), title: message.id }),
      element("td", { "data-label": "body", class: "mono", text: shortText(JSON.stringify(message.body), 80) }),
      element("td", { "data-label": "attempts", text: String(message.attempts) }),
      browsing ? element("td", { "data-label": "priority", text: String(message.priority) }) : element("td", { "data-label": "progress" }, progressCell(message.progress)),
      element("td", { "data-label": "published" }, time(state.messagesState === "delayed" && message.availableAt ? message.availableAt : message.publishedAt)),
      browsing
        ? element(
            "td",
            { class: "actions" },
            element("button", { type: "button", "data-action": "promote", text: "Run now", onclick: () => changeMessage("promote", page.queue, message.id) }),
            element("button", { type: "button", "data-action": "remove", text: "Remove", onclick: () => changeMessage("remove", page.queue, message.id) }),
          )
        : null,
    ),
  );
  const none = { in_flight: "No messages in flight.", waiting: "No messages waiting.", delayed: "No delayed messages." }[state.messagesState];
  if (rows.length === 0) rows.push(element("tr", {}, element("td", { colspan: String(columns.length), class: "muted", text: none })));
  $("messages-body").replaceChildren(...rows);
  renderPager("messages", page.offset, page.messages.length, page.total);
}

// ---- tasks ------------------------------------------------------------------------------------

function renderStatusFilter(tasks) {
  const chips = [["", "all", tasks.total], ...Object.entries(tasks.counts).map(([status, count]) => [status, status, count])];
  if (state.status && !(state.status in tasks.counts)) chips.push([state.status, state.status, 0]);
  $("status-filter").replaceChildren(
    ...chips.map(([value, label, count]) =>
      element("button", {
        type: "button",
        "data-status": value || "all",
        "aria-pressed": String(state.status === value),
        text: `${label} ${count.toLocaleString()}`,
        onclick: () => {
          state.status = value;
          state.tasksOffset = 0;
          refresh();
        },
      }),
    ),
  );
}

async function loadTasks(tasksInfo) {
  const query = new URLSearchParams({ limit: String(PAGE), offset: String(state.tasksOffset) });
  if (state.status) query.set("status", state.status);
  const page = await api(`api/tasks?${query}`);
  const columns = [...new Set([tasksInfo.columns.id, tasksInfo.columns.status, ...tasksInfo.columns.list])];
  $("tasks-head").replaceChildren(...columns.map((column) => element("th", { scope: "col", text: column })));
  const rows = page.tasks.map((task) => {
    const id = String(task[tasksInfo.columns.id]);
    const open = () => openTask(id);
    return element(
      "tr",
      { "data-id": id, onclick: open },
      ...columns.map((column) =>
        element(
          "td",
          { "data-label": column, "data-column": column },
          column === tasksInfo.columns.id ? element("button", { type: "button", class: "link mono", text: shortText(id, 40), title: id }) : cellValue(column, task[column], tasksInfo.columns.status),
        ),
      ),
    );
  });
  if (rows.length === 0) rows.push(element("tr", {}, element("td", { colspan: String(columns.length), class: "muted", text: "No tasks." })));
  $("tasks-body").replaceChildren(...rows);
  renderPager("tasks", page.offset, page.tasks.length, page.total);
}

bindPager("tasks", "tasksOffset");

async function openTask(id) {
  state.openTask = id;
  $("task-id").textContent = id;
  $("task-fields").replaceChildren(element("dd", { class: "muted", text: "loading…" }));
  if (!$("task-dialog").open) $("task-dialog").showModal();
  await loadTask();
}

async function loadTask() {
  if (!state.openTask) return;
  try {
    const { task } = await api(`api/tasks/${encodeURIComponent(state.openTask)}`);
    const fields = Object.entries(task).flatMap(([column, value]) => [element("dt", { text: column }), element("dd", { "data-field": column }, fullValue(column, value))]);
    $("task-fields").replaceChildren(...fields);
  } catch (error) {
    $("task-fields").replaceChildren(element("dd", { class: "error", text: error.message }));
  }
}

$("task-close").addEventListener("click", () => $("task-dialog").close());
$("task-dialog").addEventListener("close", () => (state.openTask = ""));

// ---- dead letters -----------------------------------------------------------------------------

function renderDeadQueues(overview) {
  const listable = overview.queues.filter((queue) => queue.deadLetters);
  const select = $("dead-queue");
  if (!listable.some((queue) => queue.id === state.deadQueue)) {
    const withDead = listable.find((queue) => queue.dead > 0);
    state.deadQueue = (withDead || listable[0] || { id: "" }).id;
    state.deadOffset = 0;
  }
  select.replaceChildren(
    ...listable.map((queue) => element("option", { value: queue.id, selected: queue.id === state.deadQueue, text: `${queue.id} (${queue.dead ?? "?"})` })),
  );
  const unlisted = overview.queues.filter((queue) => !queue.deadLetters && !queue.error);
  $("dead-note").textContent = unlisted.length
    ? `Not listed here: ${unlisted.map((queue) => `${queue.id} (${queue.driverKind} keeps its dead messages in the broker)`).join(", ")}.`
    : "";
}

$("dead-queue").addEventListener("change", (event) => {
  state.deadQueue = event.target.value;
  state.deadOffset = 0;
  refresh();
});

async function loadDead() {
  if (!state.deadQueue) {
    $("dead-list").replaceChildren(element("p", { class: "muted", text: "No queue here lists dead letters." }));
    $("dead-pager").hidden = true;
    return;
  }
  const query = new URLSearchParams({ queue: state.deadQueue, limit: String(PAGE), offset: String(state.deadOffset) });
  const page = await api(`api/dead?${query}`);
  const items = page.messages.map((message) =>
    element(
      "article",
      { class: "dead", "data-dead-id": message.id },
      element(
        "div",
        { class: "meta" },
        element("span", { class: "mono", text: message.id }),
        element("span", { text: `${message.attempts} attempt${message.attempts === 1 ? "" : "s"}` }),
        element("time", { datetime: message.diedAt, text: `died ${formatTime(message.diedAt)}` }),
      ),
      element("div", { class: "why", text: message.error || "no error recorded" }),
      element("pre", { text: JSON.stringify(message.body, null, 2) }),
      element(
        "div",
        { class: "actions" },
        element("button", { type: "button", "data-action": "retry", onclick: () => settle("retry", page.queue, message.id), text: "Retry" }),
        element("button", { type: "button", "data-action": "discard", onclick: () => settle("discard", page.queue, message.id), text: "Discard" }),
      ),
    ),
  );
  if (items.length === 0) items.push(element("p", { class: "muted", text: `No dead letters in ${page.queue}.` }));
  $("dead-list").replaceChildren(...items);
  renderPager("dead", page.offset, page.messages.length, page.total);
}

bindPager("dead", "deadOffset");

async function settle(action, queue, id) {
  if (action === "discard" && !window.confirm(`Discard dead letter ${id} for good?`)) return;
  try {
    await api(`api/dead/${action}`, { method: "POST", body: JSON.stringify({ queue, id }) });
    toast(action === "retry" ? `Retrying ${id}` : `Discarded ${id}`);
  } catch (error) {
    toast(`Could not ${action} ${id}: ${error.message}`);
  }
  refresh();
}

// ---- the loop ---------------------------------------------------------------------------------

let running = false;
let again = false;

async function refresh() {
  clearTimeout(state.timer);
  if (state.locked) return;
  if (running) {
    again = true; // a click while a refresh is under way: run once more right after it
    return;
  }
  running = true;
  try {
    const overview = await api("api/overview");
    state.overview = overview;
    state.refreshMs = overview.refreshMs;
    document.title = `${overview.title} · dashboard`;
    $("title").textContent = overview.title;
    renderQueues(overview);
    renderMessageQueues(overview);
    await loadMessages();
    const tasksSection = $("tasks-section");
    tasksSection.hidden = !overview.tasks;
    if (overview.tasks) {
      $("tasks-source").textContent = `from ${overview.tasks.table}`;
      $("tasks-error").hidden = !overview.tasks.error;
      $("tasks-error").textContent = overview.tasks.error || "";
      if (!overview.tasks.error) {
        renderStatusFilter(overview.tasks);
        await loadTasks(overview.tasks);
      }
    }
    renderDeadQueues(overview);
    await loadDead();
    if (state.openTask) await loadTask();
    setLive(true, `live · ${new Date(overview.generatedAt).toLocaleTimeString()}`);
  } catch (error) {
    if (error.status !== 401) setLive(false, `offline: ${error.message}`);
  } finally {
    running = false;
    if (!state.locked && (again || !document.hidden)) state.timer = setTimeout(refresh, again ? 0 : state.refreshMs);
    again = false;
  }
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refresh();
});

refresh();
