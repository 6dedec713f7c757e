// The one place that talks to Tauri: typed command wrappers, event listeners,
// native dialogs, the clipboard, drag-and-drop and closing the window.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { getCurrentWindow, type CloseRequestedEvent } from "@tauri-apps/api/window";
import { open as openDialog, save as saveDialog } from "@tauri-apps/plugin-dialog";
import { writeText } from "@tauri-apps/plugin-clipboard-manager";
import type {
  CommandError,
  ConflictAction,
  ConnectionStatus,
  ImportReport,
  LogLine,
  QrImage,
  RoutingMode,
  ServiceEvent,
  ServiceStatus,
  Settings,
  TunnelDetail,
  TunnelSummary,
  Validation,
} from "./types";

/** Turns whatever a rejected invoke carries into a CommandError. */
export function toCommandError(error: unknown): CommandError {
  if (error && typeof error === "object" && "message" in error) {
    const e = error as Partial<CommandError>;
    return {
      kind: typeof e.kind === "string" ? e.kind : "unknown",
      message: String(e.message),
      diagnostics: Array.isArray(e.diagnostics) ? e.diagnostics.map(String) : undefined,
    };
  }
  if (typeof error === "string") return { kind: "unknown", message: error };
  return { kind: "internal", message: String(error) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

export const api = {
  connectionStatus: () => call<ConnectionStatus>("connection_status"),
  reconnect: () => call<ConnectionStatus>("reconnect"),
  listTunnels: () => call<TunnelSummary[]>("list_tunnels"),
  getTunnel: (name: string) => call<TunnelDetail>("get_tunnel", { name }),
  activate: (name: string) => call<null>("activate", { name }),
  deactivate: (name: string) => call<null>("deactivate", { name }),
  setRoutingMode: (name: string, mode: RoutingMode) =>
    call<null>("set_routing_mode", { name, mode }),
  setKillSwitch: (name: string, enabled: boolean) =>
    call<null>("set_kill_switch", { name, enabled }),
  createTunnel: (name: string) => call<TunnelDetail>("create_tunnel", { name }),
  updateTunnel: (name: string, configText: string) =>
    call<{ warnings: string[] }>("update_tunnel", { name, configText }),
  renameTunnel: (from: string, to: string) => call<null>("rename_tunnel", { from, to }),
  deleteTunnel: (name: string) => call<null>("delete_tunnel", { name }),
  validateConfig: (text: string) => call<Validation>("validate_config", { text }),
  importFiles: (paths: string[]) => call<ImportReport>("import_files", { paths }),
  importQrImage: (image: QrImage, name: string | null = null) =>
    call<ImportReport>("import_qr_image", { image, name }),
  importQrClipboard: (name: string | null = null) =>
    call<ImportReport>("import_qr_clipboard", { name }),
  resolveConflict: (id: number, action: ConflictAction) =>
    call<ImportReport>("resolve_conflict", { id, action }),
  tunnelQrSvg: (name: string) => call<string>("tunnel_qr_svg", { name }),
  revealPrivateKey: (name: string) => call<string>("reveal_private_key", { name }),
  exportTunnelFile: (name: string, path: string) =>
    call<null>("export_tunnel_file", { name, path }),
  exportAllZip: (path: string) => call<null>("export_all_zip", { path }),
  readLog: (since: number | null, limit: number) =>
    call<LogLine[]>("read_log", { since, limit }),
  serviceStatus: () => call<ServiceStatus>("service_status"),
  getSettings: () => call<Settings>("get_settings"),
  setSettings: (settings: Settings) => call<Settings>("set_settings", { settings }),
};

export const EVENT_CONNECTION = "culvert://connection";
export const EVENT_SERVICE = "culvert://service";
export const EVENT_OPEN_IMPORT = "culvert://open-import";
export const EVENT_SELECT_TUNNEL = "culvert://select-tunnel";

export interface AppEventHandlers {
  connection: (status: ConnectionStatus) => void;
  service: (event: ServiceEvent) => void;
  openImport: () => void;
  selectTunnel: (name: string) => void;
  dropPaths: (paths: string[]) => void;
  dragHover: (hovering: boolean) => void;
}

/** Subscribes to every event the app reacts to; resolves to one function that unsubscribes all. */
export async function listenAppEvents(handlers: AppEventHandlers): Promise<UnlistenFn> {
  const unlisteners: UnlistenFn[] = await Promise.all([
    listen<ConnectionStatus>(EVENT_CONNECTION, (e) => handlers.connection(e.payload)),
    listen<ServiceEvent>(EVENT_SERVICE, (e) => handlers.service(e.payload)),
    listen(EVENT_OPEN_IMPORT, () => handlers.openImport()),
    listen<string>(EVENT_SELECT_TUNNEL, (e) => handlers.selectTunnel(e.payload)),
  ]);
  unlisteners.push(await listenDragDrop(handlers));
  return () => unlisteners.forEach(unlistenQuietly);
}

/** Unsubscribes; when the IPC is already gone (window closing) there is nothing left to undo. */
function unlistenQuietly(unlisten: UnlistenFn): void {
  try {
    void Promise.resolve(unlisten() as unknown).catch(() => {});
  } catch {
    // already gone
  }
}

async function listenDragDrop(handlers: AppEventHandlers): Promise<UnlistenFn> {
  try {
    return await getCurrentWebview().onDragDropEvent((event) => {
      const payload = event.payload;
      if (payload.type === "enter" || payload.type === "over") handlers.dragHover(true);
      else if (payload.type === "leave") handlers.dragHover(false);
      else if (payload.type === "drop") {
        handlers.dragHover(false);
        if (payload.paths.length > 0) handlers.dropPaths(payload.paths);
      }
    });
  } catch {
    // Outside a Tauri webview (plain browser) there is no window to listen on.
    return () => {};
  }
}

/** Asks the window to close, as the window manager's close button does (Culvert stays in the tray). */
export async function closeWindow(): Promise<void> {
  try {
    await getCurrentWindow().close();
  } catch {
    // Outside Tauri there is no window to close.
  }
}

/** Closes the window without asking the close-requested listeners again. */
export async function destroyWindow(): Promise<void> {
  try {
    await getCurrentWindow().destroy();
  } catch {
    // Outside Tauri there is no window to destroy.
  }
}

/**
 * Listens for requests to close the window; the handler calls `preventDefault()` to keep it
 * open, otherwise the window is destroyed. Resolves to a function that stops listening.
 */
export async function onWindowCloseRequested(
  handler: (event: CloseRequestedEvent) => void,
): Promise<UnlistenFn> {
  try {
    const unlisten = await getCurrentWindow().onCloseRequested(handler);
    return () => unlistenQuietly(unlisten);
  } catch {
    // Outside a Tauri webview (plain browser) there is no window to listen on.
    return () => {};
  }
}

const IMPORT_EXTENSIONS = ["conf", "zip", "png", "jpg", "jpeg"];
const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg"];

/** The file picker for import; resolves to the chosen paths (empty when cancelled). */
export async function pickImportFiles(filterName: string, imagesOnly = false): Promise<string[]> {
  const chosen = await openDialog({
    multiple: true,
    directory: false,
    filters: [{ name: filterName, extensions: imagesOnly ? IMAGE_EXTENSIONS : IMPORT_EXTENSIONS }],
  });
  if (chosen === null) return [];
  return Array.isArray(chosen) ? chosen : [chosen];
}

/** The save-file picker; resolves to the chosen path or null when cancelled. */
export async function pickSavePath(
  defaultPath: string,
  filterName: string,
  extension: string,
): Promise<string | null> {
  return await saveDialog({ defaultPath, filters: [{ name: filterName, extensions: [extension] }] });
}

export async function copyText(text: string): Promise<void> {
  await writeText(text);
}
