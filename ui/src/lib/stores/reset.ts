// Puts every store back to its initial state (tests mount the app many times).
import { connection } from "./connection.svelte";
import { importFlow } from "./import.svelte";
import { log } from "./log.svelte";
import { notices } from "./notices.svelte";
import { settings } from "./settings.svelte";
import { tunnels } from "./tunnels.svelte";
import { ui } from "./ui.svelte";

export function resetStores(): void {
  connection.reset();
  importFlow.reset();
  log.reset();
  notices.reset();
  settings.reset();
  tunnels.reset();
  ui.reset();
}
