// A fake Tauri side for tests: answers the contract's commands from in-memory state,
// records every call (event subscriptions too), and emits events through the mocked event plugin.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { render, screen, waitFor } from "@testing-library/svelte";
import { expect } from "vitest";
import App from "../App.svelte";
import type {
  ConnectionStatus,
  LogLine,
  PeerStats,
  ServiceEvent,
  Settings,
  TunnelDetail,
  TunnelState,
  TunnelSummary,
  Validation,
} from "../lib/types";

export type Handler = (args: Record<string, unknown>) => unknown;

export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

export const PUBLIC_KEY_A = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
export const PEER_KEY_1 = "TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=";
export const PEER_KEY_2 = "gN65BkIKy1eCE9pP1wdc8ROUtkHLF2PfAqYdyYBz6EA=";

export function summary(name: string, state: TunnelState = { status: "inactive" }): TunnelSummary {
  return { name, state, routing_mode: "split", kill_switch: false };
}

export function detailOf(s: TunnelSummary, peers = 1): TunnelDetail {
  return {
    summary: s,
    config_text_redacted: `[Interface]\nPrivateKey = (hidden)\nAddress = 10.0.0.2/32\n\n[Peer]\nPublicKey = ${PEER_KEY_1}\nAllowedIPs = 0.0.0.0/0\nEndpoint = vpn.example.net:51820\n`,
    interface: {
      public_key: PUBLIC_KEY_A,
      addresses: ["10.0.0.2/32"],
      dns: ["1.1.1.1"],
      listen_port: null,
      mtu: 1420,
    },
    peers: [PEER_KEY_1, PEER_KEY_2].slice(0, peers).map((key) => ({
      public_key: key,
      endpoint: "203.0.113.5:51820",
      allowed_ips: ["0.0.0.0/0"],
      has_preshared_key: false,
      latest_handshake_unix: null,
      rx_bytes: 0,
      tx_bytes: 0,
      persistent_keepalive: 25,
    })),
  };
}

export interface FakeBackend {
  calls: Call[];
  handlers: Record<string, Handler>;
  tunnels: TunnelSummary[];
  settings: Settings;
  callsOf(cmd: string): Record<string, unknown>[];
  /** Whether something currently listens to `event` (subscriptions minus unsubscriptions). */
  listensTo(event: string): boolean;
}

/** Installs the fake; `overrides` replace individual command handlers. */
export function installBackend(
  options: {
    tunnels?: TunnelSummary[];
    connection?: ConnectionStatus;
    log?: LogLine[];
    overrides?: Record<string, Handler>;
  } = {},
): FakeBackend {
  const backend: FakeBackend = {
    calls: [],
    tunnels: options.tunnels ?? [summary("alpha"), summary("beta", { status: "active" })],
    settings: { locale: "en", theme: "light", start_at_login: false, notifications: true },
    handlers: {},
    callsOf(cmd) {
      return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args);
    },
    listensTo(event) {
      const count = (cmd: string) => this.callsOf(cmd).filter((a) => a.event === event).length;
      return count("plugin:event|listen") > count("plugin:event|unlisten");
    },
  };
  const find = (name: unknown) => {
    const found = backend.tunnels.find((t) => t.name === name);
    if (!found) throw { kind: "not_found", message: `no tunnel named ${String(name)}` };
    return found;
  };
  const ok: Validation = { ok: true, diagnostics: [], public_key: null };
  backend.handlers = {
    connection_status: () => options.connection ?? { state: "connected", service_version: "0.1.0" },
    reconnect: () => ({ state: "connected", service_version: "0.1.0" }),
    list_tunnels: () => backend.tunnels.map((t) => ({ ...t })),
    get_tunnel: ({ name }) => detailOf({ ...find(name) }),
    activate: ({ name }) => {
      find(name).state = { status: "active" };
      return null;
    },
    deactivate: ({ name }) => {
      find(name).state = { status: "inactive" };
      return null;
    },
    set_routing_mode: () => null,
    set_kill_switch: () => null,
    validate_config: () => ok,
    read_log: () => options.log ?? [],
    get_settings: () => ({ ...backend.settings }),
    set_settings: ({ settings }) => {
      backend.settings = settings as Settings;
      return { ...backend.settings };
    },
    "plugin:clipboard-manager|write_text": () => null,
    "plugin:window|close": () => null,
    "plugin:window|destroy": () => null,
    ...options.overrides,
  };
  mockWindows("main");
  mockIPC(
    (cmd, args) => {
      const record = (args ?? {}) as Record<string, unknown>;
      backend.calls.push({ cmd, args: record });
      const handler = backend.handlers[cmd];
      if (!handler) throw { kind: "internal", message: `unmocked command ${cmd}` };
      return handler(record);
    },
    { shouldMockEvents: true },
  );
  // The mock answers the event plugin itself, without the callback above: record those too.
  const internals = (window as unknown as { __TAURI_INTERNALS__: { invoke: (cmd: string, args?: unknown, options?: unknown) => Promise<unknown> } })
    .__TAURI_INTERNALS__;
  const mockedInvoke = internals.invoke;
  internals.invoke = (cmd, args, invokeOptions) => {
    if (cmd.startsWith("plugin:event|")) backend.calls.push({ cmd, args: (args ?? {}) as Record<string, unknown> });
    return mockedInvoke(cmd, args, invokeOptions);
  };
  return backend;
}

export async function emitService(event: ServiceEvent): Promise<void> {
  await emit("culvert://service", event);
}

export async function emitConnection(status: ConnectionStatus): Promise<void> {
  await emit("culvert://connection", status);
}

export function statsEvent(name: string, rx: number, tx: number, handshake: number | null = null): ServiceEvent {
  const peers: PeerStats[] = [
    { public_key: PEER_KEY_1, endpoint: "203.0.113.5:51820", latest_handshake_unix: handshake, rx_bytes: rx, tx_bytes: tx },
  ];
  return { type: "stats", name, peers };
}

/** Renders the app and waits until the tunnel list (or the connection screen) is up. */
export async function renderApp(options: { waitFor?: "list" | "connection" } = {}) {
  const result = render(App);
  if ((options.waitFor ?? "list") === "list") {
    await screen.findByRole("listbox");
  } else {
    await waitFor(() => expect(screen.getByTestId("connection-screen").dataset.state).not.toBe("connecting"));
  }
  return result;
}
