// Drives Strait's live page in headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core) for tests/e2e/test_live_page.py, step by step:
// the test writes one JSON command per line on stdin, the script answers
// one JSON line per command on stdout ({"ok": true, ...} or {"ok": false,
// "error": "..."}). The page is loaded once; no command reloads it.
//
//   node live_page.js URL
//   {"cmd": "wait_empty"}                       the empty state of links and mirrors
//   {"cmd": "wait_mirror", "link": L, "topic": T, "lag": "0"}
//                                               link row and mirror card, lag shown
//   {"cmd": "wait_lag", "topic": T, "lag": "25"} the mirror's lag changes to this text
//   {"cmd": "screenshot", "path": P}
//   {"cmd": "quit"}
"use strict";

const readline = require("readline");
const { chromium } = require("playwright-core");

const CHROMIUM = process.env.STRAIT_CHROMIUM || "/usr/bin/chromium";
const WAIT_MS = 30000;

function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

// A CSS attribute selector value, quoted.
function quoted(value) {
  return JSON.stringify(String(value));
}

async function main() {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  let navigations = 0;
  page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations += 1; });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
  page.on("requestfailed", (r) => problems.push("request failed: " + r.url()));
  page.on("request", (r) => {
    if (!r.url().startsWith(new URL(url).origin)) problems.push("remote request: " + r.url());
  });

  const response = await page.goto(url, { waitUntil: "load" });
  const loaded = {
    status: response.status(),
    content_type: response.headers()["content-type"] || "",
    csp: response.headers()["content-security-policy"] || "",
  };
  // Set once; a reload would lose it.
  await page.evaluate(() => { window.__straitLoadMark = "first-load"; });
  await page.waitForSelector("#updated[data-state=ok]", { timeout: WAIT_MS });
  const state = async () => ({
    navigations,
    load_mark: await page.evaluate(() => window.__straitLoadMark || null),
    problems: problems.slice(),
  });
  reply({ ok: true, loaded, ...(await state()) });

  const commands = {
    async wait_empty() {
      await page.waitForSelector("[data-empty=links]", { timeout: WAIT_MS });
      await page.waitForSelector("[data-empty=mirrors]", { timeout: WAIT_MS });
      return { links_text: await page.textContent("#links") };
    },
    async wait_mirror(c) {
      const row = `#links tr[data-link=${quoted(c.link)}]`;
      const card = `#mirrors article[data-mirror=${quoted(c.topic)}]`;
      await page.waitForSelector(row, { timeout: WAIT_MS });
      await page.waitForFunction(
        ([sel, lag]) => {
          const v = document.querySelector(sel + " [data-field=lag-records]");
          return v !== null && v.textContent === lag;
        },
        [card, c.lag], { timeout: WAIT_MS });
      return {
        link_row: await page.textContent(row),
        link_state: await page.textContent(`${row} [data-field=state]`),
        source_cluster_id: await page.textContent(`${row} [data-field=source-cluster-id]`),
        bootstrap_servers: await page.textContent(`${row} [data-field=bootstrap-servers]`),
        mirror_card: await page.textContent(card),
        mirror_state: await page.textContent(`${card} .head [data-field=state]`),
        partitions: await page.$$eval(`${card} tr[data-partition]`, (rows) => rows.length),
      };
    },
    async wait_lag(c) {
      const card = `#mirrors article[data-mirror=${quoted(c.topic)}]`;
      await page.waitForFunction(
        ([sel, lag]) => {
          const v = document.querySelector(sel + " [data-field=lag-records]");
          return v !== null && v.textContent === lag;
        },
        [card, c.lag], { timeout: WAIT_MS });
      return {
        lag_records: await page.textContent(`${card} [data-field=lag-records]`),
        max_lag_seconds: await page.textContent(`${card} [data-field=max-lag-seconds]`),
        mirror_state: await page.textContent(`${card} .head [data-field=state]`),
        partition_lags: await page.$$eval(`${card} [data-field=partition-lag-records]`,
          (cells) => cells.map((td) => td.textContent)),
        chart_points: await page.$$eval(`${card} svg.chart polyline.records`,
          (lines) => lines.map((l) => l.getAttribute("points").trim().split(/\s+/).length)),
      };
    },
    async screenshot(c) {
      await page.screenshot({ path: c.path, fullPage: true });
      return { path: c.path };
    },
  };

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let c;
    try {
      c = JSON.parse(line);
    } catch (e) {
      reply({ ok: false, error: "bad command: " + line });
      continue;
    }
    if (c.cmd === "quit") break;
    const run = commands[c.cmd];
    if (!run) {
      reply({ ok: false, error: "unknown command " + c.cmd });
      continue;
    }
    try {
      reply({ ok: true, ...(await run(c)), ...(await state()) });
    } catch (e) {
      reply({ ok: false, error: String(e && e.message || e), ...(await state()),
        page_text: await page.textContent("body").catch(() => null) });
    }
  }
  await browser.close();
}

main().catch((e) => {
  reply({ ok: false, error: String(e && e.stack || e) });
  process.exit(1);
});
