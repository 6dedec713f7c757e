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
    openImport: () => {
      ui.view = "tunnels";
      void importFromFileDialog();
    },
    selectTunnel: (name) => {
      ui.view = "tunnels";
      void tunnels.select(name);
    },
    dropPaths: (paths) => void importPaths(paths),
    dragHover: (hovering) => (ui.dragging = hovering),
  }).catch(() => () => {}); // outside Tauri the connection check below reports the failure
  await connection.check();
  return () => {
    unlisten();
    clock.stop();
  };
}
