// Tunnels: the list, the selected tunnel's detail, live peer stats and per-tunnel
// transfer-rate history (kept for every tunnel, selected or not).
import { api } from "../api";
import type {
  PeerDetail,
  PeerStats,
  RoutingMode,
  ServiceEvent,
  TunnelDetail,
  TunnelState,
  TunnelSummary,
} from "../types";
import { notices } from "./notices.svelte";
import type { CommandError } from "../types";

/** Rate samples older than this are dropped: the chart shows the last five minutes. */
export const HISTORY_WINDOW_MS = 5 * 60 * 1000;

export interface RateSample {
  /** Arrival time of the stats event, unix milliseconds. */
  t: number;
  /** Received and sent bytes per second since the previous event. */
  rx: number;
  tx: number;
}

interface Counters {
  t: number;
  rx: number;
  tx: number;
}

export function isUp(state: TunnelState): boolean {
  return state.status === "active" || state.status === "activating";
}

class Tunnels {
  list = $state<TunnelSummary[]>([]);
  loaded = $state(false);
  selected = $state<string | null>(null);
  details = $state<Record<string, TunnelDetail>>({});
  stats = $state<Record<string, PeerStats[]>>({});
  history = $state<Record<string, RateSample[]>>({});
  busy = $state<Record<string, boolean>>({});
  #counters = new Map<string, Counters>();

  get selectedSummary(): TunnelSummary | null {
    return this.list.find((tunnel) => tunnel.name === this.selected) ?? null;
  }

  get selectedDetail(): TunnelDetail | null {
    return this.selected ? (this.details[this.selected] ?? null) : null;
  }

  /** The detail's peers with the latest live counters merged in. */
  peersOf(name: string): PeerDetail[] {
    const detail = this.details[name];
    if (!detail) return [];
    const live = this.stats[name] ?? [];
    return detail.peers.map((peer) => {
      const stats = live.find((s) => s.public_key === peer.public_key);
      return stats
        ? {
            ...peer,
            endpoint: stats.endpoint ?? peer.endpoint,
            latest_handshake_unix: stats.latest_handshake_unix,
            rx_bytes: stats.rx_bytes,
            tx_bytes: stats.tx_bytes,
          }
        : peer;
    });
  }

  async refresh(): Promise<void> {
    try {
      const list = await api.listTunnels();
      this.list = [...list].sort((a, b) => a.name.localeCompare(b.name));
      this.loaded = true;
      if (this.selected && !this.list.some((tunnel) => tunnel.name === this.selected)) {
        this.selected = null;
      }
      if (!this.selected && this.list.length > 0) this.selected = this.list[0].name;
      if (this.selected) await this.loadDetail(this.selected);
    } catch (error) {
      notices.error(error as CommandError);
    }
  }

  async select(name: string): Promise<void> {
    this.selected = name;
    await this.loadDetail(name);
  }

  async loadDetail(name: string): Promise<void> {
    try {
      const detail = await api.getTunnel(name);
      this.details[name] = detail;
      this.#updateSummary(name, () => detail.summary);
    } catch (error) {
      notices.error(error as CommandError);
    }
  }

  handleEvent(event: ServiceEvent): void {
    switch (event.type) {
      case "tunnel_state":
        this.#updateSummary(event.name, (summary) => ({ ...summary, state: event.state }));
        if (!isUp(event.state)) this.#counters.delete(event.name);
        if (event.name === this.selected) void this.loadDetail(event.name);
        break;
      case "tunnels_changed":
        void this.refresh();
        break;
      case "stats":
        this.#recordStats(event.name, event.peers, Date.now());
        break;
    }
  }

  async toggle(name: string): Promise<void> {
    const summary = this.list.find((tunnel) => tunnel.name === name);
    if (!summary || this.busy[name]) return;
    this.busy[name] = true;
    try {
      if (isUp(summary.state)) await api.deactivate(name);
      else await api.activate(name);
      await this.refresh();
    } catch (error) {
      notices.error(error as CommandError);
    } finally {
      this.busy[name] = false;
    }
  }

  async setRoutingMode(name: string, mode: RoutingMode): Promise<void> {
    try {
      await api.setRoutingMode(name, mode);
      this.#updateSummary(name, (summary) => ({ ...summary, routing_mode: mode }));
    } catch (error) {
      notices.error(error as CommandError);
    }
  }

  async setKillSwitch(name: string, enabled: boolean): Promise<void> {
    try {
      await api.setKillSwitch(name, enabled);
      this.#updateSummary(name, (summary) => ({ ...summary, kill_switch: enabled }));
    } catch (error) {
      notices.error(error as CommandError);
    }
  }

  /** Creates a tunnel and selects it; rejects with the CommandError for the caller to show. */
  async create(name: string): Promise<TunnelDetail> {
    const detail = await api.createTunnel(name);
    this.details[name] = detail;
    await this.refresh();
    this.selected = name;
    return detail;
  }

  async rename(from: string, to: string): Promise<void> {
    await api.renameTunnel(from, to);
    for (const record of [this.details, this.stats, this.history]) delete record[from];
    this.#counters.delete(from);
    if (this.selected === from) this.selected = to;
    await this.refresh();
  }

  async remove(name: string): Promise<void> {
    await api.deleteTunnel(name);
    for (const record of [this.details, this.stats, this.history]) delete record[name];
    this.#counters.delete(name);
    if (this.selected === name) this.selected = null;
    await this.refresh();
  }

  #updateSummary(name: string, update: (summary: TunnelSummary) => TunnelSummary): void {
    const index = this.list.findIndex((tunnel) => tunnel.name === name);
    if (index >= 0) this.list[index] = update(this.list[index]);
    const detail = this.details[name];
    if (detail) detail.summary = update(detail.summary);
  }

  #recordStats(name: string, peers: PeerStats[], now: number): void {
    this.stats[name] = peers;
    const rx = peers.reduce((sum, peer) => sum + peer.rx_bytes, 0);
    const tx = peers.reduce((sum, peer) => sum + peer.tx_bytes, 0);
    const previous = this.#counters.get(name);
    this.#counters.set(name, { t: now, rx, tx });
    // A counter that went down means the device restarted: start a new baseline.
    if (!previous || now <= previous.t || rx < previous.rx || tx < previous.tx) return;
    const seconds = (now - previous.t) / 1000;
    const samples = (this.history[name] ?? []).filter((s) => s.t > now - HISTORY_WINDOW_MS);
    samples.push({ t: now, rx: (rx - previous.rx) / seconds, tx: (tx - previous.tx) / seconds });
    this.history[name] = samples;
  }

  reset(): void {
    this.list = [];
    this.loaded = false;
    this.selected = null;
    this.details = {};
    this.stats = {};
    this.history = {};
    this.busy = {};
    this.#counters.clear();
  }
}

export const tunnels = new Tunnels();
