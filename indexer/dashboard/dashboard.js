// The dashboard (indexer/dashboard/index.html): plain JavaScript over the auditor API, charts by uPlot.
// Three views, chosen by the URL's hash:
//   #/                the overview: the indexer's state, the market over time, jobs, releases, providers
//   #/job/ID          a job's books and its history
//   #/account/ACCOUNT a consumer's or provider's statement over a period (and its CSV), and its jobs
// Every list is paged with the API's cursors (?page_size=N in the page's URL sets the rows per page,
// 20 by default). The overview refreshes every 2 s, keeping the pages it shows. Amounts are u128
// decimal strings in the API; they stay BigInt here except where a chart needs a number.
"use strict";

const DECIMALS = 12n;
const UNIT = 10n ** DECIMALS;
const PAGE_SIZE = (() => {
  const n = Number(new URLSearchParams(location.search).get("page_size"));
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 20;
})();
const BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const FLOWS = ["to_escrow", "credited", "paid_out", "slashed"];

// ---------------------------------------------------------------- formatting and elements

/** An amount (decimal text) in tokens, at most 4 decimals shown (a non-zero amount below that shows
 * as "< 0.0001"). */
function tokens(text) {
  const v = BigInt(text ?? "0");
  const abs = v < 0n ? -v : v;
  const sign = v < 0n ? "-" : "";
  const frac = (abs % UNIT).toString().padStart(Number(DECIMALS), "0").replace(/0+$/, "").slice(0, 4);
  if (abs > 0n && abs < UNIT / 10000n) return `${sign}< 0.0001`;
  return `${sign}${abs / UNIT}${frac ? `.${frac}` : ""}`;
}
/** An amount (BigInt) as a float number of tokens, for charts only. */
const tokenNumber = (v) => Number(v / 10n ** 6n) / 1e6;
const short = (a) => (a ? `${a.slice(0, 6)}…${a.slice(-4)}` : "–");
const utc = (ms) => new Date(Number(ms)).toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(e.dataset, v);
    else if (k === "class") e.className = v;
    else e[k] = v;
  }
  e.append(...children);
  return e;
}
const cell = (content, cls) => el("td", cls ? { class: cls } : {}, content ?? "–");
const num = (text) => cell(tokens(text), "num");
const accountLink = (a) => el("a", { class: "acct", href: `#/account/${a}`, title: a }, short(a));
const jobLink = (id) => el("a", { class: "job", href: `#/job/${id}` }, String(id));
function accounts(list) {
  const span = el("span");
  list.forEach((a, i) => span.append(...(i ? [", "] : []), accountLink(a)));
  return span;
}

/** Fills table `id`'s body with a row per item (`render` gives its cells), or says it is empty. */
function fill(id, rows, render, onClick) {
  const body = document.querySelector(`#${id} tbody`);
  if (!rows.length) {
    const span = document.querySelectorAll(`#${id} thead th`).length;
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colSpan: span }, "nothing here")));
    return;
  }
  body.replaceChildren(...rows.map((r) => {
    const tr = el("tr", {}, ...render(r));
    if (onClick) {
      tr.style.cursor = "pointer";
      tr.addEventListener("click", (e) => { if (e.target.tagName !== "A") onClick(r); });
    }
    return tr;
  }));
}

async function get(path) {
  const res = await fetch(path);
  if (!res.ok) {
    let code = `${res.status}`;
    try { code = (await res.json()).code ?? code; } catch { /* not JSON */ }
    const error = new Error(`${path}: ${code}`);
    error.code = code;
    error.status = res.status;
    throw error;
  }
  return res.json();
}
const withQuery = (path, params) => {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== ""));
  const s = q.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
};

// ---------------------------------------------------------------- pagination

/** Keyset paging of one list: the cursors of the pages before this one, so "newer" goes back. */
class Pager {
  constructor(name, load) {
    this.box = document.querySelector(`.pager[data-for="${name}"]`);
    this.load = load;
    this.reset();
  }
  reset() {
    this.stack = [];
    this.cursor = null;
    this.next = null;
  }
  /** The current page's query: limit and cursor. */
  query() {
    return { limit: PAGE_SIZE, cursor: this.cursor };
  }
  /** Reads a page with `read(query)`; `null` if the page was changed meanwhile (the answer is stale). */
  async read(read) {
    const cursor = this.cursor;
    const page = await read(this.query());
    return cursor === this.cursor ? page : null;
  }
  /** Shows the controls after a page was read whose `next` is `next`. */
  show(next, rows) {
    this.next = next;
    const page = this.stack.length + 1;
    const prev = el("button", { type: "button", disabled: page === 1, dataset: { page: "prev" } }, "‹ previous");
    const more = el("button", { type: "button", disabled: !next, dataset: { page: "next" } }, "next ›");
    prev.addEventListener("click", () => { this.cursor = this.stack.pop() ?? null; this.load(); });
    more.addEventListener("click", () => { this.stack.push(this.cursor); this.cursor = this.next; this.load(); });
    this.box.replaceChildren(prev, el("span", { dataset: { pageNumber: page } }, `page ${page} · ${rows} ${rows === 1 ? "row" : "rows"}`), more);
  }
}

// ---------------------------------------------------------------- the overview

const overview = {
  bucket: "minute",
  charts: {},
  pagers: {},
};

function jobRow(j) {
  return [
    cell(jobLink(j.job_id)), cell(j.status, `status-${j.status}`), cell(accountLink(j.consumer)),
    cell(accounts(j.providers)), num(j.deposited), num(j.released_net), num(j.released_fee), num(j.refunded),
    num(j.held),
  ];
}

async function loadJobs() {
  const p = overview.pagers.jobs;
  const page = await p.read((q) => get(withQuery("/v1/jobs", q)));
  if (!page) return;
  fill("jobs", page.jobs, jobRow, (j) => { location.hash = `#/job/${j.job_id}`; });
  p.show(page.next, page.jobs.length);
}

async function loadReleases() {
  const p = overview.pagers.releases;
  const page = await p.read((q) => get(withQuery("/v1/releases", q)));
  if (!page) return;
  fill("releases", page.releases, (r) => [
    cell(r.block), cell(utc(r.timestamp_ms)), cell(jobLink(r.job_id)), cell(accountLink(r.provider)),
    num(r.cumulative), num(r.amount), num(r.net), num(r.fee),
  ]);
  p.show(page.next, page.releases.length);
}

async function loadProviders() {
  const p = overview.pagers.providers;
  const page = await p.read((q) => get(withQuery("/v1/providers", q)));
  if (!page) return;
  fill("providers", page.providers, (r) => [
    cell(accountLink(r.provider)), num(r.released_net), num(r.claimed), num(r.slashed),
    cell(r.disputes_lost ?? 0, "num"), cell(r.score == null ? "–" : `${(r.score / 10).toFixed(1)} %`, "num"),
  ]);
  p.show(page.next, page.providers.length);
}

const amountTicks = (_, ticks) => ticks.map((t) => t.toLocaleString("en", { maximumFractionDigits: 4 }));

/** A uPlot chart in figure `id`, sized to it: `series` after the x axis, each on the y axis of its
 * scale (`y` on the left, any other on the right). */
function makeChart(id, series, data, widthMs) {
  const box = $(id);
  box.querySelector(".uplot")?.remove();
  box.querySelector(".empty")?.remove();
  const pad = widthMs / 1000;
  const scales = [...new Set(series.map((s) => s.scale ?? "y"))];
  const opts = {
    width: Math.max(320, box.clientWidth - 24),
    height: 220,
    scales: { x: { time: true, range: (_, min, max) => [min - pad, max + pad] } },
    axes: [{}, ...scales.map((scale, i) => ({
      scale, size: 70, side: i ? 1 : 3, grid: { show: !i }, values: amountTicks,
      ...(i ? { stroke: series.find((s) => s.scale === scale).stroke } : {}),
    }))],
    series: [{ value: (_, t) => (t == null ? "–" : utc(t * 1000)) }, ...series],
    // A drag zooms in; the 2 s refresh then keeps the zoom (double-click zooms out).
    hooks: { setSelect: [(u) => { if (u.select.width > 0) u.zoomed = true; }] },
  };
  const chart = new uPlot(opts, data, box);
  chart.over.addEventListener("dblclick", () => { chart.zoomed = false; });
  return chart;
}

/** Draws the market series (newest first from the API) in both charts and sets the held card. */
async function loadSeries() {
  const bucket = overview.bucket;
  const page = await get(withQuery("/v1/market/series", { bucket, limit: 1000 }));
  if (bucket !== overview.bucket) return; // another bucket was chosen meanwhile: its answer draws
  const points = [...page.points].reverse();
  const x = points.map((p) => p.start_ms / 1000);
  const released = points.map((p) => tokenNumber(BigInt(p.released)));
  const fees = points.map((p) => tokenNumber(BigInt(p.fees)));
  // What was held is drawn at each bucket's end, from what was held before the first one shown.
  const first = points[0];
  const before = first
    ? BigInt(first.held) - BigInt(first.deposited) + BigInt(first.released) + BigInt(first.refunded) : 0n;
  const heldX = first ? [x[0], ...points.map((p) => (p.start_ms + page.width_ms) / 1000)] : [];
  const held = first ? [tokenNumber(before), ...points.map((p) => tokenNumber(BigInt(p.held)))] : [];
  const latest = page.points[0];
  $("held").textContent = tokens(latest ? latest.held : "0");
  $("series-range").textContent = points.length
    ? `· ${points.length} buckets with activity, ${utc(points[0].start_ms)} to ${utc(latest.start_ms + page.width_ms)}`
    : "· no activity yet";
  const sum = (key) => page.points.reduce((s, p) => s + BigInt(p[key]), 0n).toString();
  for (const [id, data] of [["chart-volume", [x, released, fees]], ["chart-held", [heldX, held]]]) {
    const box = $(id);
    Object.assign(box.dataset, {
      bucket: page.bucket, points: points.length, released: sum("released"), fees: sum("fees"),
      held: latest ? latest.held : "0",
    });
    if (!points.length) {
      overview.charts[id]?.destroy();
      delete overview.charts[id];
      box.querySelector(".empty") ?? box.append(el("p", { class: "empty" }, "no releases or deposits yet"));
      continue;
    }
    const chart = overview.charts[id];
    if (chart && chart.bucket === overview.bucket) {
      chart.setData(data, !chart.zoomed);
      continue;
    }
    chart?.destroy();
    const bars = uPlot.paths.bars({ size: [0.6, 48] });
    const series = id === "chart-volume"
      ? [
        { label: "released", stroke: "#1565c0", fill: "rgba(21,101,192,.35)", paths: bars, points: { show: false } },
        { label: "fees", scale: "fees", stroke: "#c62828", width: 2, points: { show: true, size: 6 } },
      ]
      : [{ label: "held", stroke: "#2e7d32", fill: "rgba(46,125,50,.12)", width: 2, paths: uPlot.paths.stepped({ align: 1 }) }];
    overview.charts[id] = Object.assign(makeChart(id, series, data, page.width_ms), { bucket: overview.bucket });
  }
}

async function refreshOverview() {
  const [status, fees] = await Promise.all([get("/v1/status"), get("/v1/treasury/fees")]);
  $("cursor").textContent = status.cursor ? status.cursor.number : "–";
  $("head").textContent = status.chain_head ?? "–";
  const lag = $("lag");
  lag.textContent = status.lag_blocks == null ? "–" : `${status.lag_blocks} blocks`;
  lag.className = `value ${status.lag_blocks > 1 ? "lag-behind" : "lag-ok"}`;
  $("fees").textContent = tokens(fees.total_fees);
  $("events").textContent = status.events;
  await Promise.all([loadSeries(), loadJobs(), loadReleases(), loadProviders()]);
}

function setupOverview() {
  overview.pagers = {
    jobs: new Pager("jobs", () => run(loadJobs)),
    releases: new Pager("releases", () => run(loadReleases)),
    providers: new Pager("providers", () => run(loadProviders)),
  };
  for (const b of document.querySelectorAll("#buckets button")) {
    b.addEventListener("click", () => { overview.bucket = b.dataset.bucket; pressBucket(); run(loadSeries); });
  }
  pressBucket();
}
function pressBucket() {
  for (const b of document.querySelectorAll("#buckets button")) {
    b.setAttribute("aria-pressed", String(b.dataset.bucket === overview.bucket));
  }
}

// ---------------------------------------------------------------- a job

const job = { id: null, pager: null };

async function loadHistory() {
  const page = await job.pager.read((q) => get(withQuery(`/v1/jobs/${job.id}/history`, q)));
  if (!page) return;
  const AMOUNTS = ["deposit", "amount", "cumulative", "fee", "net", "slashed"];
  $("history-title").textContent = `History of job ${job.id}`;
  $("history-events").replaceChildren(...page.events.map((e) => {
    const amounts = AMOUNTS.filter((f) => f in e.fields).map((f) => `${f} ${tokens(e.fields[f])}`);
    return el("li", { dataset: { kind: e.kind } },
      `block ${e.block} · ${utc(e.timestamp_ms)} · ${e.kind}${amounts.length ? " · " + amounts.join(", ") : ""}`);
  }));
  job.pager.show(page.next, page.events.length);
}

async function showJob(id) {
  if (job.id !== id) {
    job.id = id;
    job.pager = new Pager("history", () => run(loadHistory));
  }
  let found;
  try {
    found = await get(withQuery("/v1/jobs", { job: id }));
  } catch (e) {
    if (e.code === "bad_job") return notFound(`"${id}" is not a job id.`);
    throw e;
  }
  if (!found.jobs.length) return notFound(`No job ${id} has been indexed.`);
  const j = found.jobs[0];
  $("job-title").textContent = `Job ${id}`;
  fill("job-books", [j], (r) => [
    cell(r.status, `status-${r.status}`), cell(accountLink(r.consumer)), cell(accounts(r.providers)),
    num(r.deposited), num(r.released_net), num(r.released_fee), num(r.refunded), num(r.held),
  ]);
  await loadHistory();
  show("job-view", `job:${id}`);
}

// ---------------------------------------------------------------- an account

const account = { id: null, from: null, to: null, pagers: {} };

/** A `YYYY-MM-DD` date as its UTC midnight (ms); none for none, NaN for anything else. */
const dayMs = (value) => (value ? (/^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN) : null);
const period = () => ({ from: account.from, to: account.to });

async function loadStatement() {
  const p = account.pagers.statement;
  const path = `/v1/accounts/${encodeURIComponent(account.id)}/statement`;
  const page = await p.read((q) => get(withQuery(path, { ...period(), ...q })));
  if (!page) return;
  $("account-id").textContent = page.account;
  $("statement-totals").replaceChildren(...FLOWS.map((f) => el("div", { class: "card", dataset: { flow: f } },
    el("div", { class: "label" }, f.replace("_", " ")), el("div", { class: "value" }, tokens(page.totals[f] ?? "0")))));
  fill("statement", page.lines, (l) => [
    cell(l.block), cell(utc(l.timestamp_ms)), cell(l.entry), cell(l.job_id == null ? "–" : jobLink(l.job_id)),
    cell(l.flow, `flow-${l.flow}`), num(l.amount),
  ]);
  p.show(page.next, page.lines.length);
}

function jobsOf(role) {
  const id = `${role}-jobs`;
  return async () => {
    const p = account.pagers[id];
    const page = await p.read((q) => get(withQuery("/v1/jobs", { [role]: account.id, ...q })));
    if (!page) return;
    fill(id, page.jobs, (j) => [
      cell(jobLink(j.job_id)), cell(j.status, `status-${j.status}`),
      cell(role === "consumer" ? accounts(j.providers) : accountLink(j.consumer)),
      num(j.deposited), num(j.released_net), num(j.refunded), num(j.held),
    ], (j) => { location.hash = `#/job/${j.job_id}`; });
    p.show(page.next, page.jobs.length);
  };
}
const loadConsumerJobs = jobsOf("consumer");
const loadProviderJobs = jobsOf("provider");

async function showAccount(id, params) {
  if (account.id !== id) {
    account.id = id;
    account.pagers = {
      statement: new Pager("statement", () => run(loadStatement)),
      "consumer-jobs": new Pager("consumer-jobs", () => run(loadConsumerJobs)),
      "provider-jobs": new Pager("provider-jobs", () => run(loadProviderJobs)),
    };
  } else {
    account.pagers.statement.reset();
  }
  const [from, to] = [dayMs(params.get("from")), dayMs(params.get("to"))];
  if ([from, to].some((t) => Number.isNaN(t) || t < 0)) return notFound("A period's days are UTC dates from 1970 on.");
  if (from != null && to != null && from >= to) return notFound("The period must start before it ends.");
  [account.from, account.to] = [from, to];
  try {
    await loadStatement();
  } catch (e) {
    if (e.code === "bad_account") return notFound(`"${id}" is neither a job id nor an account (SS58 or 0x hex).`);
    throw e;
  }
  $("period-from").value = params.get("from") ?? "";
  $("period-to").value = params.get("to") ?? "";
  $("csv").href = withQuery(`/v1/accounts/${encodeURIComponent(id)}/statement`, { format: "csv", ...period() });
  await Promise.all([loadConsumerJobs(), loadProviderJobs()]);
  show("account-view", `account:${$("account-id").textContent}`);
}

// ---------------------------------------------------------------- views and routing

function show(view, name) {
  for (const v of ["overview-view", "job-view", "account-view", "notfound-view", "failed-view"]) {
    $(v).hidden = v !== view;
  }
  document.body.dataset.view = name;
}
function notFound(message) {
  $("notfound").textContent = message;
  show("notfound-view", "notfound");
}

/** Runs `f`, showing its error (and that the page retries) rather than throwing. */
async function run(f) {
  try {
    await f();
    $("error").textContent = "";
    return true;
  } catch (e) {
    $("error").textContent = `(${e.message}; retrying)`;
    return false;
  }
}

/** Shows a page (`load`), or, if reading it failed, says so with a button to try again. */
async function navigate(load) {
  try {
    await load();
    $("error").textContent = "";
  } catch (e) {
    $("failed").textContent = `Could not read this page (${e.message}).`;
    show("failed-view", "failed");
  }
}

async function route() {
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query ?? "");
  const [, kind, arg] = path.split("/");
  let decoded = null;
  try { decoded = arg == null ? null : decodeURIComponent(arg); } catch { /* a malformed escape */ }
  if (kind === "job" && /^\d+$/.test(arg ?? "")) return navigate(() => showJob(arg));
  if (kind === "account" && decoded) return navigate(() => showAccount(decoded, params));
  if (kind && kind !== "") return notFound(`Nothing at "${location.hash}".`);
  show("overview-view", "overview");
  if (await run(refreshOverview)) document.body.dataset.ready = "true";
}

$("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("search-input").value.trim();
  if (!q) return;
  location.hash = /^\d+$/.test(q) ? `#/job/${q}` : `#/account/${encodeURIComponent(q)}`;
});
$("period").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = new URLSearchParams(Object.entries({ from: $("period-from").value, to: $("period-to").value })
    .filter(([, v]) => v));
  const target = `#/account/${encodeURIComponent(account.id)}${q.toString() ? `?${q}` : ""}`;
  if (location.hash === target) route(); else location.hash = target;
});
$("retry").addEventListener("click", route);
// The charts follow their boxes' width.
window.addEventListener("resize", () => {
  for (const [id, chart] of Object.entries(overview.charts)) {
    chart.setSize({ width: Math.max(320, $(id).clientWidth - 24), height: 220 });
  }
});
window.addEventListener("hashchange", route);
setupOverview();
route();

/** The overview refreshes 2 s after its last refresh ended (never two at once), while it is shown. */
async function keepFresh() {
  if (document.body.dataset.view === "overview" && !document.hidden) await run(refreshOverview);
  setTimeout(keepFresh, 2000);
}
setTimeout(keepFresh, 2000);
