// End to end in the real webview: the release app driven through tauri-driver and
// WebKitWebDriver, against a real culvertd with a wireguard-go peer. `cargo xtask
// test` sets the lab up and passes it in through the environment:
//   CULVERT_APP         the release binary
//   E2E_CONF            a .conf for a tunnel named "lab" that reaches the peer
//   E2E_QR              a PNG QR code of a tunnel named "phone" once imported (also
//                       put on the clipboard, where it is imported as "qr-import")
//   E2E_SCREENSHOTS     where to save the screenshots
//   E2E_DISPLAY, E2E_XAUTHORITY  the virtual display the app shows on, captured with
//                       ImageMagick's `import` (WebKitWebDriver's own screenshot command
//                       stops answering once the editor has been shown)
//   E2E_REPORT          where to write the measured figures (JSON)
// Every wait is for a condition, with a generous deadline.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Builder, By, Capabilities, until } from "selenium-webdriver";

const DEADLINE = 60_000;
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const shots = env("E2E_SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const capabilities = new Capabilities();
capabilities.set("tauri:options", { application: env("CULVERT_APP") });
capabilities.setBrowserName("wry");

const testid = (id) => By.css(`[data-testid="${id}"]`);

/** The environment that reaches the app's display. */
const displayEnv = () => ({ ...process.env, DISPLAY: env("E2E_DISPLAY"), XAUTHORITY: env("E2E_XAUTHORITY") });

/** The app's window as the display shows it. */
async function screenshot(driver, name) {
  const { x, y, width, height } = await driver.manage().window().getRect();
  const file = join(shots, `${name}.png`);
  execFileSync("import", ["-window", "root", "-crop", `${width}x${height}+${x}+${y}`, "+repage", file], {
    env: displayEnv(),
    timeout: 15_000,
  });
  console.log(`e2e: screenshot ${name}.png`);
}

/** Waits for `check` to return a truthy value; returns it. */
async function waitFor(driver, what, check) {
  return driver.wait(
    async () => {
      try {
        return await check();
      } catch {
        return false;
      }
    },
    DEADLINE,
    `timed out waiting for ${what}`,
  );
}

/** The real command through the real IPC, as the file dialog's choice would call it. */
async function invoke(driver, command, args) {
  return driver.executeAsyncScript(
    `const [command, args, done] = arguments;
     window.__TAURI_INTERNALS__.invoke(command, args)
       .then((value) => done({ ok: value }), (error) => done({ error }));`,
    command,
    args,
  );
}

/** "1.5 KiB" -> 1536: the byte counts the peer card shows. */
function parseBytes(text) {
  const match = /([\d.,]+)\s*(B|KiB|MiB|GiB|TiB)/.exec(text);
  if (!match) return NaN;
  const units = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
  return Number(match[1].replace(",", "")) * units[match[2]];
}

const started = Date.now();
const driver = await new Builder()
  .usingServer("http://127.0.0.1:4444/")
  .withCapabilities(capabilities)
  .build();
const report = {};
try {
  // Launch to a usable window: the list or its empty state, not the connection screen.
  await waitFor(driver, "the tunnel view", async () => {
    const create = await driver.findElements(testid("create-tunnel"));
    return create.length > 0 && (await create[0].isDisplayed());
  });
  report.launch_to_list_ms = Date.now() - started;
  console.log(`e2e: tunnel view after ${report.launch_to_list_ms} ms`);

  // Import the .conf; the list follows the service's tunnels_changed event.
  const imported = await invoke(driver, "import_files", { paths: [env("E2E_CONF")] });
  if (imported.error || imported.ok.imported.length !== 1) {
    throw new Error(`import failed: ${JSON.stringify(imported)}`);
  }
  const item = await driver.wait(until.elementLocated(testid("tunnel-item-lab")), DEADLINE);
  await item.click();

  // Activate, then wait for a handshake on screen and rx/tx rising.
  await driver.findElement(testid("toggle-tunnel")).click();
  await waitFor(driver, "the active state", async () => {
    const text = await driver.findElement(testid("tunnel-state")).getText();
    return /active/i.test(text) && !/inactive/i.test(text);
  });
  const handshake = await waitFor(driver, "a handshake time", async () => {
    const shown = await driver.findElement(testid("peer-handshake")).getAttribute("textContent");
    return /ago/.test(shown) ? shown : false;
  });
  console.log(`e2e: latest handshake "${handshake}"`);
  // textContent: the peer card may be below the fold, where getText() reads "".
  const text = async (id) => driver.findElement(testid(id)).getAttribute("textContent");
  const counters = async () => ({
    rx: parseBytes(await text("peer-rx")),
    tx: parseBytes(await text("peer-tx")),
  });
  const first = await counters();
  let last = first;
  await waitFor(driver, "rx and tx rising", async () => {
    last = await counters();
    return last.rx > first.rx && last.tx > first.tx;
  }).catch((error) => {
    throw new Error(`${error.message}: from ${JSON.stringify(first)} to ${JSON.stringify(last)}`);
  });
  await screenshot(driver, "tunnel-active");

  // Full tunnel and back, through the selector; the service confirms each.
  const mode = async (value) => {
    // Set as a person's choice would (clicking an <option> opens WebKitGTK's native
    // popup, which WebDriver cannot close).
    await driver.executeScript(
      `const select = document.querySelector('[data-testid="routing-mode"]');
       select.value = arguments[0];
       select.dispatchEvent(new Event("change", { bubbles: true }));`,
      value,
    );
    await waitFor(driver, `routing mode ${value}`, async () => {
      const list = await invoke(driver, "list_tunnels", {});
      return list.ok?.find((t) => t.name === "lab")?.routing_mode === value;
    });
  };
  await mode("full");
  await screenshot(driver, "tunnel-full");
  await mode("split");

  // The tunnel as a QR code for the phone app.
  await driver.findElement(testid("show-qr")).click();
  await driver.wait(until.elementLocated(testid("qr-svg")), DEADLINE);
  await screenshot(driver, "tunnel-qr");
  await driver.findElement(By.css('[data-testid="qr-dialog"] .dialog-footer button')).click();
  await waitFor(driver, "the QR dialog closed", async () => (await driver.findElements(testid("qr-svg"))).length === 0);

  // Import from a QR code image.
  const fromQr = await invoke(driver, "import_files", { paths: [env("E2E_QR")] });
  if (fromQr.error || fromQr.ok.imported.length !== 1) {
    throw new Error(`QR import failed: ${JSON.stringify(fromQr)}`);
  }
  await driver.wait(until.elementLocated(testid("tunnel-item-phone")), DEADLINE);

  // And from an image on the clipboard, through the menu, as a person would: xclip
  // holds the PNG on the display's clipboard (until the display goes away).
  execFileSync("xclip", ["-selection", "clipboard", "-target", "image/png", "-in", env("E2E_QR")], {
    env: displayEnv(),
    stdio: "ignore",
    timeout: 15_000,
  });
  await driver.findElement(testid("import-qr-menu")).click();
  await driver.findElement(testid("import-qr-clipboard")).click();
  await driver.wait(until.elementLocated(testid("import-summary")), DEADLINE);
  await driver.findElement(By.css('[data-testid="import-summary"] .dialog-footer button')).click();
  await driver.wait(until.elementLocated(testid("tunnel-item-qr-import")), DEADLINE);
  const fromClipboard = await invoke(driver, "get_tunnel", { name: "qr-import" });
  if (!JSON.stringify(fromClipboard.ok?.interface?.addresses ?? []).includes("10.99.0.2/32")) {
    throw new Error(`the clipboard's tunnel is not the QR code's: ${JSON.stringify(fromClipboard)}`);
  }
  console.log("e2e: imported from a QR code on the clipboard");

  // The editor, the log and the settings.
  console.log("e2e: imported from a QR code; opening the editor");
  await driver.findElement(testid("tunnel-item-lab")).click();
  await driver.findElement(testid("edit-tunnel")).click();
  await driver.wait(until.elementLocated(testid("editor-valid")), DEADLINE);
  console.log("e2e: the editor says the config is valid");
  await screenshot(driver, "editor");
  console.log("e2e: log and settings");
  await driver.findElement(testid("editor-cancel")).click();
  await driver.findElement(testid("nav-log")).click();
  await waitFor(driver, "log lines", async () => (await driver.findElements(testid("log-line"))).length > 0);
  await screenshot(driver, "log");
  await driver.findElement(testid("nav-settings")).click();
  await driver.wait(until.elementLocated(testid("setting-locale")), DEADLINE);
  await screenshot(driver, "settings");
  await driver.findElement(testid("nav-tunnels")).click();

  // Deactivate.
  console.log("e2e: deactivating");
  await driver.wait(until.elementLocated(testid("tunnel-item-lab")), DEADLINE).click();
  await driver.findElement(testid("toggle-tunnel")).click();
  await waitFor(driver, "the inactive state", async () =>
    /inactive/i.test(await driver.findElement(testid("tunnel-state")).getText()),
  );
  console.log("e2e: passed");
} catch (error) {
  await screenshot(driver, "failure").catch(() => {});
  throw error;
} finally {
  writeFileSync(env("E2E_REPORT"), JSON.stringify(report));
  await Promise.race([driver.quit(), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
}
