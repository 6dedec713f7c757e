// For `cargo xtask bench`: launches the release app through tauri-driver, prints
// "list MS" once the tunnel view is on screen (MS from asking for the session, which
// starts the app), "idle" ten seconds later, then waits for a line on stdin (the bench
// reads the app's memory meanwhile) and quits the app.

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
  // Idle: what a person leaves running in the tray.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  console.log("idle");
  await new Promise((resolve) => process.stdin.once("data", resolve));
} finally {
  await driver.quit();
}
