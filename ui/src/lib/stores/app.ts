// Start-up wiring: events to stores, the first connection check, loads on connect.
import { listenAppEvents, pickImportFiles, api } from "../api";
import { t } from "../i18n/index.svelte";
import { clock } from "./clock.svelte";
import { connection } from "./connection.svelte";
import { importFlow } from "./import.svelte";
import { log } from "./log.svelte";
import { notices } from "./notices.svelte";
import { settings } from "./settings.svelte";
import { tunnels } from "./tunnels.svelte";
import { ui } from "./ui.svelte";

export async function importPaths(paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  await importFlow.run(() => api.importFiles(paths), paths.join(", "));
}

/** Opens the file picker and imports what was chosen. */
export async function importFromFileDialog(imagesOnly = false): Promise<void> {
  try {
    await importPaths(await pickImportFiles(t("import.filter_name"), imagesOnly));
  } catch (error) {
    notices.error(error as { kind: string; message: string });
  }
}

/**
 * What the window was opened to do: the tray's "Import" opens a window that does not
 * exist yet (closing it to the tray destroys it) with `?open=import`. Taken once, so a
 * reload does not repeat it.
 */
export function takeStartupAction(): "import" | null {
  const action = new URLSearchParams(window.location.search).get("open");
  if (action === null) return null;
  window.history.replaceState(null, "", window.location.pathname + window.location.hash);
  return action === "import" ? action : null;
}

/** Runs for the app's lifetime; resolves to a function that undoes everything it set up. */
export async function startApp(): Promise<() => void> {
  settings.apply();
  clock.start();
  connection.onConnected = () => {
    void tunnels.refresh();
    void settings.load();
    void log.load();
  };
  notices.onDisconnected = () => void connection.check();
  const openImport = () => {
    ui.view = "tunnels";
    void importFromFileDialog();
  };
  const unlisten = await listenAppEvents({
    connection: (status) => connection.set(status),
    service: (event) => {
      if (event.type === "log") {
        const { type: _type, ...line } = event;
        log.append(line);
      } else {
        tunnels.handleEvent(event);
      }
    },
    openImport,
    selectTunnel: (name) => {
      ui.view = "tunnels";
      void tunnels.select(name);
    },
    dropPaths: (paths) => void importPaths(paths),
    dragHover: (hovering) => (ui.dragging = hovering),
  }).catch(() => () => {}); // outside Tauri the connection check below reports the failure
  await connection.check();
  if (takeStartupAction() === "import") openImport();
  return () => {
    unlisten();
    clock.stop();
  };
}
