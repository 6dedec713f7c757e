// For `cargo xtask bench`: launches the release app through tauri-driver, prints
// "list MS" once the tunnel view is on screen (MS from asking for the session, which
// starts the app) and "idle" ten seconds later; then closes the window to the tray
// (Ctrl+W) and prints "tray" ten seconds later. After each of "idle" and "tray" it
// waits for a line on stdin (the bench reads the app's memory meanwhile). The bench
// stops the app afterwards: in the tray it has no web view left for the driver.

import { Builder, By, Capabilities } from "selenium-webdriver";

const capabilities = new Capabilities();
capabilities.set("tauri:options", { application: process.env.CULVERT_APP });
capabilities.setBrowserName("wry");

const started = Date.now();
const driver = await new Builder()
  .usingServer("http://127.0.0.1:4444/")
  .withCapabilities(capabilities)
  .build();
try {
  await driver.wait(async () => {
    const found = await driver.findElements(By.css('[data-testid="create-tunnel"]'));
    return found.length > 0 && (await found[0].isDisplayed());
  }, 60_000);
  console.log(`list ${Date.now() - started}`);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 10_000));
  const measured = () => new Promise((resolve) => process.stdin.once("data", resolve));
  await settle();
  console.log("idle");
  await measured();
  // What a person leaves running: the app in the tray, its window closed.
  // The key is pressed after this script has answered: a WebDriver command whose
  // window goes away meanwhile never gets its answer. The bench checks that the
  // window's WebKit processes are gone.
  await driver.executeScript(
    `setTimeout(() => window.dispatchEvent(
       new KeyboardEvent("keydown", { key: "w", ctrlKey: true, bubbles: true })), 100);`,
  );
  await settle();
  console.log("tray");
  await measured();
} finally {
  // Reading stdin would keep node running.
  process.stdin.destroy();
  // The window (and with it the driver's session) is gone: ending the session may
  // fail or never answer.
  const timeout = new Promise((resolve) => setTimeout(resolve, 10_000).unref());
  await Promise.race([driver.quit().catch(() => {}), timeout]);
}
