// Drives the dashboard the indexer serves (DASHBOARD_URL, after the demo) in Debian's headless Chromium
// and checks what it shows against the auditor API itself:
// - the overview: the cards, the charts (released, fees and held, at two bucket widths), and every list
//   paged one row at a time with previous / next;
// - a job's page (by a click and by searching its id): its books and its history in chain order;
// - an account's page (by searching a consumer and a provider): its statement and totals, its CSV, its
//   jobs; a search that is neither a job nor an account says so.
// Screenshots of the three pages go to SCREENSHOTS (a directory). Run by cli/tests/stack.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = (process.env.DASHBOARD_URL ?? "").replace(/\/$/, "");
const shots = process.env.SCREENSHOTS ?? ".";
const api = async (path) => {
  const res = await fetch(`${url}${path}`);
  assert.equal(res.status, 200, path);
  return res.json();
};
const UNIT = 10n ** 12n;
const tokens = (v) => {
  const frac = (v % UNIT).toString().padStart(12, "0").replace(/0+$/, "");
  return frac ? `${v / UNIT}.${frac.slice(0, 4)}` : `${v / UNIT}`;
};
const sum = (rows, key) => rows.reduce((s, r) => s + BigInt(r[key]), 0n);

/** An SS58 address (one-byte prefix) as 0x hex of its 32-byte account. */
function ss58Hex(address) {
  const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = 0n;
  for (const c of address) n = n * 58n + BigInt(ALPHABET.indexOf(c));
  const hex = n.toString(16).padStart(70, "0"); // prefix (1), account (32), checksum (2) bytes
  return `0x${hex.slice(2, 66)}`;
}

/** Every row of a table, through its pager (one row a page), and back to the first page. */
async function pageThrough(page, table, rowText) {
  const seen = [];
  const pager = page.locator(`.pager[data-for="${table}"]`);
  for (let n = 1; n < 50; n++) {
    await page.waitForSelector(`.pager[data-for="${table}"] [data-page-number="${n}"]`);
    seen.push(await rowText(page.locator(`#${table} tbody tr`).first()));
    assert.equal(await page.locator(`#${table} tbody tr`).count(), 1, `${table}: one row a page`);
    if (await pager.locator("[data-page=next]").isDisabled()) break;
    await pager.locator("[data-page=next]").click();
  }
  for (let n = seen.length - 1; n >= 1; n--) {
    await pager.locator("[data-page=prev]").click();
    await page.waitForSelector(`.pager[data-for="${table}"] [data-page-number="${n}"]`);
  }
  assert.ok(await pager.locator("[data-page=prev]").isDisabled(), `${table}: back on the first page`);
  return seen;
}

async function search(page, text, view) {
  await page.fill("#search-input", text);
  await page.click("#search button");
  await page.waitForSelector(`body[data-view${view}]`);
}

test("the dashboard charts, pages, searches and shows accounts as the API serves them", async () => {
  assert.ok(url, "DASHBOARD_URL is not set");
  mkdirSync(shots, { recursive: true });
  const [jobs, releases, providers, fees] = await Promise.all([
    api("/v1/jobs?limit=1000"), api("/v1/releases?limit=1000"), api("/v1/providers?limit=1000"), api("/v1/treasury/fees"),
  ]);
  const held = sum(jobs.jobs, "held");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    // Far from UTC (UTC+14), so a date or time read as local would show.
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, timezoneId: "Pacific/Kiritimati" });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(`${url}/?page_size=1`);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });

    // The cards: two jobs (one refunded after its dispute, one still open), fees, no lag, and what the
    // escrow holds is what the jobs' books hold.
    assert.equal(await page.textContent("#fees"), tokens(BigInt(fees.total_fees)));
    assert.equal(await page.textContent("#fees"), "3.9");
    assert.equal(await page.textContent("#held"), tokens(held));
    assert.ok(held > 0n);
    assert.match(await page.textContent("#lag"), /^[01] blocks$/);

    // The charts, per minute and per hour: every release and fee, and the holding now.
    for (const bucket of ["minute", "hour"]) {
      await page.click(`#buckets [data-bucket=${bucket}]`);
      await page.waitForFunction((b) => {
        const box = document.querySelector("#chart-volume");
        return document.querySelector(`#buckets [data-bucket=${b}]`).getAttribute("aria-pressed") === "true"
          && box.querySelector("canvas") && box.dataset.bucket === b;
      }, bucket);
      for (const id of ["#chart-volume", "#chart-held"]) {
        const data = await page.locator(id).evaluate((e) => ({ ...e.dataset }));
        assert.ok(Number(data.points) >= 1, `${bucket} ${id}: ${JSON.stringify(data)}`);
        assert.equal(data.released, sum(releases.releases, "amount").toString(), `${bucket} released`);
        assert.equal(data.fees, fees.total_fees, `${bucket} fees`);
        assert.equal(data.held, held.toString(), `${bucket} held`);
        assert.ok(await page.locator(`${id} canvas`).count() >= 1, `${bucket} ${id} drawn`);
      }
    }
    await page.click("#buckets [data-bucket=minute]");
    await page.waitForFunction(() => document.querySelector("#chart-volume").dataset.bucket === "minute");
    // Another window width: each chart follows its box (one column of charts at 800 px, two at 1280).
    const follows = () => {
      const box = document.querySelector("#chart-volume");
      const chart = box.querySelector(".uplot").getBoundingClientRect().width;
      return Math.abs(chart - Math.max(320, box.clientWidth - 24)) <= 2;
    };
    const before = await page.locator("#chart-volume").evaluate((e) => e.clientWidth);
    await page.setViewportSize({ width: 800, height: 1000 });
    await page.waitForFunction((w) => document.querySelector("#chart-volume").clientWidth !== w, before);
    await page.waitForFunction(follows);
    await page.setViewportSize({ width: 1280, height: 1000 });
    await page.waitForFunction((w) => document.querySelector("#chart-volume").clientWidth === w, before);
    await page.waitForFunction(follows);

    // Every list, one row a page: the API's rows, in its order.
    const jobIds = await pageThrough(page, "jobs", (tr) => tr.locator("td").first().textContent());
    assert.deepEqual(jobIds, jobs.jobs.map((j) => j.job_id));
    const blocks = await pageThrough(page, "releases", (tr) => tr.locator("td").first().textContent());
    assert.deepEqual(blocks, releases.releases.map((r) => String(r.block)));
    const listed = await pageThrough(page, "providers", (tr) => tr.locator("a.acct").getAttribute("title"));
    assert.deepEqual(listed, providers.providers.map((p) => p.provider));
    assert.equal(listed.length, 3);
    assert.ok(providers.providers.some((p) => p.slashed === (25n * UNIT).toString()), "a provider was slashed 25");
    await page.screenshot({ path: join(shots, "dashboard.png"), fullPage: true });

    // A job by a click on its row: its books and its history in chain order.
    const refunded = jobs.jobs.find((j) => j.status === "refunded");
    await page.waitForSelector("#jobs tbody tr");
    while ((await page.locator("#jobs tbody tr td").first().textContent()) !== refunded.job_id) {
      await page.locator('.pager[data-for="jobs"] [data-page=next]').click();
      await page.waitForTimeout(100);
    }
    await page.locator("#jobs tbody tr td:nth-child(2)").click();
    await page.waitForSelector(`body[data-view="job:${refunded.job_id}"]`);
    assert.equal(await page.textContent("#job-books tbody td:nth-child(8)"), tokens(BigInt(refunded.held)));
    const kinds = [];
    for (let n = 1; n < 50; n++) {
      await page.waitForSelector(`.pager[data-for="history"] [data-page-number="${n}"]`);
      kinds.push(await page.locator("#history li").first().getAttribute("data-kind"));
      const next = page.locator('.pager[data-for="history"] [data-page=next]');
      if (await next.isDisabled()) break;
      await next.click();
    }
    const history = await api(`/v1/jobs/${refunded.job_id}/history?limit=1000`);
    assert.deepEqual(kinds, history.events.map((e) => e.kind));
    assert.equal(kinds[0], "JobOpened");
    for (const kind of ["Released", "DisputeOpened", "DisputeResolved", "Refunded"]) assert.ok(kinds.includes(kind));
    assert.ok(kinds.indexOf("DisputeResolved") < kinds.indexOf("Refunded"));
    await page.goto(`${url}/?page_size=1#/job/${refunded.job_id}`);
    await page.waitForSelector(`body[data-view="job:${refunded.job_id}"] #history li`);
    await page.screenshot({ path: join(shots, "dashboard-job.png"), fullPage: true });

    // Searching a job id opens it; one never opened, or text that is no account, says so.
    const open = jobs.jobs.find((j) => j.status === "open");
    await search(page, open.job_id, `="job:${open.job_id}"`);
    await search(page, "999999", `="notfound"`);
    assert.match(await page.textContent("#notfound"), /No job 999999/);
    await search(page, "not-an-account", `="notfound"`);
    assert.match(await page.textContent("#notfound"), /neither a job id nor an account/);
    await search(page, "007", `="notfound"`);
    assert.match(await page.textContent("#notfound"), /not a job id/);

    // A consumer's page: its statement (lines and totals as the API's), its CSV, the jobs it opened.
    const consumer = refunded.consumer;
    await search(page, consumer, `="account:${consumer}"`);
    const statement = await api(`/v1/accounts/${consumer}/statement?limit=1000`);
    for (const [flow, total] of Object.entries(statement.totals)) {
      assert.equal(await page.textContent(`#statement-totals [data-flow=${flow}] .value`), tokens(BigInt(total)), flow);
    }
    const entries = await pageThrough(page, "statement", (tr) => tr.locator("td:nth-child(3)").textContent());
    assert.deepEqual(entries, statement.lines.map((l) => l.entry));
    const opened = await pageThrough(page, "consumer-jobs", (tr) => tr.locator("td").first().textContent());
    assert.deepEqual(opened, jobs.jobs.filter((j) => j.consumer === consumer).map((j) => j.job_id));
    const csv = await page.request.get(new URL(await page.getAttribute("#csv", "href"), url).href);
    assert.equal(csv.status(), 200);
    const csvLines = (await csv.text()).trim().split("\n");
    assert.match(csvLines[0], /^timestamp_ms,block,/);
    assert.equal(csvLines.length, statement.lines.length + 1);
    await page.screenshot({ path: join(shots, "dashboard-account.png"), fullPage: true });

    // A period with nothing in it: no lines, zero totals, and the CSV link says the same period.
    await page.fill("#period-from", "2001-01-01");
    await page.fill("#period-to", "2001-01-02");
    await page.click("#period button");
    await page.waitForFunction(() => location.hash.includes("from=2001-01-01"));
    await page.waitForSelector("#statement tbody td.empty");
    assert.match(await page.getAttribute("#csv", "href"), /from=978307200000&to=978393600000/);

    // A provider's page, searched by its hex account, lists the jobs it serves.
    const provider = refunded.providers[0];
    await search(page, ss58Hex(provider), `="account:${provider}"`);
    const served = await pageThrough(page, "provider-jobs", (tr) => tr.locator("td").first().textContent());
    assert.deepEqual(served, jobs.jobs.filter((j) => j.providers.includes(provider)).map((j) => j.job_id));
    assert.ok(served.includes(refunded.job_id));

    // The failed requests the browser reports are the searches for text that is no account and for a
    // job id that is not one (400).
    const refused = "Failed to load resource: the server responded with a status of 400 (Bad Request)";
    assert.deepEqual(errors, [refused, refused]);
  } finally {
    await browser.close();
  }
});
