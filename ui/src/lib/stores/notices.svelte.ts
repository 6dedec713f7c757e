// Transient messages: errors from commands (role=alert) and confirmations (role=status).
import type { CommandError } from "../types";

export interface Notice {
  id: number;
  kind: "error" | "info";
  text: string;
  details: string[];
}

let nextId = 1;

class Notices {
  items = $state<Notice[]>([]);
  /** Called when a command fails because the service connection is gone. */
  onDisconnected: (() => void) | null = null;

  info(text: string): void {
    const id = nextId++;
    this.items.push({ id, kind: "info", text, details: [] });
    setTimeout(() => this.dismiss(id), 6000);
  }

  error(error: CommandError | string): void {
    const e = typeof error === "string" ? { kind: "unknown", message: error } : error;
    if (e.kind === "not_connected") this.onDisconnected?.();
    this.items.push({ id: nextId++, kind: "error", text: e.message, details: e.diagnostics ?? [] });
  }

  dismiss(id: number): void {
    this.items = this.items.filter((notice) => notice.id !== id);
  }

  reset(): void {
    this.items = [];
    this.onDisconnected = null;
  }
}

export const notices = new Notices();
