// The app's link to culvertd, as reported by the Tauri side.
import { api } from "../api";
import type { ConnectionStatus } from "../types";

class Connection {
  status = $state<ConnectionStatus>({ state: "connecting" });
  retrying = $state(false);
  /** Set by the app: runs whenever the state becomes "connected". */
  onConnected: (() => void) | null = null;

  get connected(): boolean {
    return this.status.state === "connected";
  }

  set(status: ConnectionStatus): void {
    const wasConnected = this.connected;
    this.status = status;
    if (status.state === "connected" && !wasConnected) this.onConnected?.();
  }

  async check(): Promise<void> {
    try {
      this.set(await api.connectionStatus());
    } catch (error) {
      this.set({ state: "failed", message: (error as { message: string }).message });
    }
  }

  async retry(): Promise<void> {
    this.retrying = true;
    try {
      this.set(await api.reconnect());
    } catch (error) {
      this.set({ state: "failed", message: (error as { message: string }).message });
    } finally {
      this.retrying = false;
    }
  }

  reset(): void {
    this.status = { state: "connecting" };
    this.retrying = false;
    this.onConnected = null;
  }
}

export const connection = new Connection();
