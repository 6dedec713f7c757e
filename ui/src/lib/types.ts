// The JSON shapes of the contract between src-tauri and the UI
// (see the service's crates/ipc/src/types.rs and messages.rs).

export type TunnelState =
  | { status: "inactive" }
  | { status: "activating" }
  | { status: "active" }
  | { status: "deactivating" }
  | { status: "error"; message: string };

export type TunnelStatus = TunnelState["status"];

export type RoutingMode = "split" | "full" | "exclude_private";
export const ROUTING_MODES: readonly RoutingMode[] = ["full", "split", "exclude_private"];

export interface TunnelSummary {
  name: string;
  state: TunnelState;
  routing_mode: RoutingMode;
  kill_switch: boolean;
}

export interface InterfaceInfo {
  public_key: string;
  addresses: string[];
  dns: string[];
  listen_port: number | null;
  mtu: number | null;
}

export interface PeerDetail {
  public_key: string;
  endpoint: string | null;
  allowed_ips: string[];
  has_preshared_key: boolean;
  latest_handshake_unix: number | null;
  rx_bytes: number;
  tx_bytes: number;
  persistent_keepalive: number | null;
}

export interface TunnelDetail {
  summary: TunnelSummary;
  config_text_redacted: string;
  interface: InterfaceInfo;
  peers: PeerDetail[];
}

export interface PeerStats {
  public_key: string;
  endpoint: string | null;
  latest_handshake_unix: number | null;
  rx_bytes: number;
  tx_bytes: number;
}

export type LogLevel = "error" | "warn" | "info" | "debug" | "trace";
export const LOG_LEVELS: readonly LogLevel[] = ["error", "warn", "info", "debug", "trace"];

export interface LogLine {
  seq: number;
  unix_millis: number;
  level: LogLevel;
  target: string;
  message: string;
}

export interface ServiceStatus {
  service_version: string;
  protocol_version: number;
  pid: number;
  uptime_secs: number;
  tunnels: number;
  active: string[];
  clients: number;
  scripts_enabled: boolean;
}

export interface ImportedTunnel {
  name: string;
  source: string;
  replaced: boolean;
  warnings: string[];
}

export interface Conflict {
  id: number;
  name: string;
  source: string;
}

export interface ImportFailure {
  source: string;
  kind: string;
  message: string;
  diagnostics?: string[];
}

export interface ImportReport {
  imported: ImportedTunnel[];
  conflicts: Conflict[];
  failed: ImportFailure[];
}

export type ConflictAction = "replace" | "rename" | "skip";

export type QrImage =
  | { kind: "encoded"; base64: string }
  | { kind: "rgba"; width: number; height: number; base64: string };

export type ConnectionStatus =
  | { state: "connecting" }
  | { state: "connected"; service_version: string }
  | { state: "service_not_running"; socket: string }
  | { state: "permission_denied"; socket: string; group: string }
  | { state: "version_mismatch"; service: string; client: string }
  | { state: "failed"; message: string };

export interface Diagnostic {
  line: number;
  column: number;
  span: { start: number; end: number };
  key: string | null;
  severity: "error" | "warning";
  message: string;
}

export interface Validation {
  ok: boolean;
  diagnostics: Diagnostic[];
  public_key: string | null;
}

export type LocaleSetting = "system" | "en" | "zh-CN";
export type ThemeSetting = "system" | "light" | "dark";

export interface Settings {
  locale: LocaleSetting;
  theme: ThemeSetting;
  start_at_login: boolean;
  notifications: boolean;
}

export interface CommandError {
  kind: string;
  message: string;
  diagnostics?: string[];
}

export type ServiceEvent =
  | { type: "tunnel_state"; name: string; state: TunnelState }
  | { type: "tunnels_changed" }
  | { type: "stats"; name: string; peers: PeerStats[] }
  | ({ type: "log" } & LogLine);
