// The status page in a real browser, for tests/status_page.rs: Debian's
// headless Chromium driven by playwright-core (no browser download: the
// system's chromium is launched by path), axe-core for accessibility.
//
// Reads a JSON job from the file named by argv[2]:
//   { "chromium": "/usr/bin/chromium", "base": "http://127.0.0.1:PORT",
//     "shots": "DIR", "pages": [{ "name": "running", "path": "/running/" }] }
// and prints one JSON line: for each page and each way of opening it
// (light with JavaScript, dark with JavaScript, light without), what the
// page shows, every console error, page error, failed request and dialog,
// and axe's violations; and axe's violations on the control page
// (job.axeControl), which has known ones. The Rust test asserts; this
// script only observes.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const AXE = fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const MODES = [
  { mode: "light", colorScheme: "light", javaScriptEnabled: true, viewport: { width: 390, height: 844 } },
  { mode: "dark", colorScheme: "dark", javaScriptEnabled: true, viewport: { width: 1024, height: 768 } },
  { mode: "nojs", colorScheme: "light", javaScriptEnabled: false, viewport: { width: 390, height: 844 } },
];

async function observe(browser, job, pg, m) {
  const context = await browser.newContext({
    colorScheme: m.colorScheme,
    javaScriptEnabled: m.javaScriptEnabled,
    viewport: m.viewport,
  });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  page.on("dialog", async (d) => {
    problems.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  const response = await page.goto(job.base + pg.path, { waitUntil: "load" });
  const out = { page: pg.name, mode: m.mode, status: response.status(), problems };
  // Locators run in Playwright's own isolated world: they work with the
  // page's JavaScript off, as a reader's browser would show it.
  out.state = await page.locator("#state").getAttribute("data-state");
  out.headline = (await page.locator("#state").innerText()).trim();
  out.address = (await page.locator("#address").innerText()).trim();
  out.addressSelectsAll = await page.locator("#address").evaluate((e) => getComputedStyle(e).userSelect);
  out.historyRows = await page.locator("#history tbody tr").count();
  out.historyFirstRow = out.historyRows ? (await page.locator("#history tbody tr").first().innerText()).trim() : "";
  out.chartBars = await page.locator("svg#chart rect").count();
  out.chartTitle = (await page.locator("svg#chart title#chart-title").textContent()) || "";
  out.modRows = await page.locator("#mods tbody tr").count();
  out.modsText = await page.locator("#mods").innerText();
  out.mrpackHref = await page.locator("#mrpack").getAttribute("href");
  out.startHref = (await page.locator("#start").count()) ? await page.locator("#start").getAttribute("href") : null;
  out.scripts = await page.locator("script").count();
  out.background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  out.horizontalScroll = await page.evaluate(
    () => document.documentElement.scrollWidth > document.documentElement.clientWidth + 1,
  );
  // axe needs the page's JavaScript (it waits on timers, which do not fire
  // with it off). The page has no script of its own (out.scripts, asserted
  // 0), so the document axe checks with it on is the one a reader gets with
  // it off.
  if (m.javaScriptEnabled) {
    await page.addScriptTag({ content: AXE });
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.html) }));
    });
    out.axe = result;
  } else {
    out.axe = null;
  }
  if (m.mode !== "dark" || pg.name === "running") {
    const file = path.join(job.shots, m.mode === "light" ? `${pg.name}.png` : `${pg.name}-${m.mode}.png`);
    await page.screenshot({ path: file, fullPage: true });
    out.screenshot = file;
  }
  // The picture for docs/: a desktop window's first screen, not the whole page.
  if (pg.name === job.docsShot && m.mode === "dark") {
    await page.setViewportSize({ width: 900, height: 720 });
    await page.screenshot({ path: path.join(job.shots, "docs.png") });
  }
  await context.close();
  return out;
}

// A bound on the whole run, so a page that never settles fails the test
// instead of hanging it (Playwright closes the browser on exit).
const DEADLINE_MS = 5 * 60 * 1000;

async function main() {
  setTimeout(() => {
    process.stderr.write(`status_page.js: not done after ${DEADLINE_MS / 1000} s\n`);
    process.exit(2);
  }, DEADLINE_MS).unref();
  const job = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  fs.mkdirSync(job.shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: job.chromium,
    headless: true,
    // Root in a container has no user namespace for Chromium's sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const results = [];
  let control = null;
  try {
    for (const pg of job.pages) {
      for (const m of MODES) results.push(await observe(browser, job, pg, m));
    }
    // A page with known violations: proof that axe ran and can fail the test.
    if (job.axeControl) {
      const page = await browser.newPage();
      await page.goto(job.base + job.axeControl);
      await page.addScriptTag({ content: AXE });
      // eslint-disable-next-line no-undef
      control = await page.evaluate(async () => (await axe.run(document)).violations.map((v) => v.id));
      await page.close();
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify({ results, control }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`status_page.js: ${e.stack || e}\n`);
  process.exit(1);
});
