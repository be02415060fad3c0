// Drives the dashboard the indexer serves (DASHBOARD_URL) in Debian's headless Chromium: the page
// renders the stack's jobs, releases, fees, providers and lag from the API; clicking a job shows its
// history; a full-page screenshot goes to SCREENSHOT. Run by cli/tests/stack.rs after the demo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const url = process.env.DASHBOARD_URL;
const screenshot = process.env.SCREENSHOT ?? "dashboard.png";

test("the dashboard shows the settled marketplace and each job's history", async () => {
  assert.ok(url, "DASHBOARD_URL is not set");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 20_000 });

    // Two jobs (one refunded after its dispute, one still open), three providers, fees, no lag.
    const statuses = await page.locator("#jobs tbody tr td:nth-child(2)").allTextContents();
    assert.deepEqual([...statuses].sort(), ["open", "refunded"]);
    assert.equal(await page.locator("#providers tbody tr").count(), 3);
    assert.ok((await page.locator("#releases tbody tr").count()) >= 3);
    assert.equal(await page.textContent("#fees"), "3.9");
    assert.match(await page.textContent("#lag"), /^[01] blocks$/);
    const slashed = await page.locator("#providers tbody tr td:nth-child(4)").allTextContents();
    assert.ok(slashed.includes("25"), `a provider was slashed 25: ${slashed}`);

    // Clicking the refunded job lists its history in chain order.
    await page.locator("#jobs tbody tr", { hasText: "refunded" }).click();
    await page.waitForSelector("#history li");
    const kinds = await page.locator("#history li").evaluateAll((items) => items.map((li) => li.dataset.kind));
    assert.equal(kinds[0], "JobOpened");
    for (const kind of ["Released", "DisputeOpened", "DisputeResolved", "Refunded"]) {
      assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
    }
    assert.ok(kinds.indexOf("DisputeResolved") < kinds.indexOf("Refunded"));

    await page.screenshot({ path: screenshot, fullPage: true });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
