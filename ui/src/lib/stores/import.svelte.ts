// One import run: the service's report, the conflicts asked one by one, then a summary.
import { api } from "../api";
import type {
  CommandError,
  Conflict,
  ConflictAction,
  ImportFailure,
  ImportReport,
  ImportedTunnel,
} from "../types";
import { tunnels } from "./tunnels.svelte";

export interface ImportSummary {
  imported: ImportedTunnel[];
  failed: ImportFailure[];
  skipped: Conflict[];
}

function emptySummary(): ImportSummary {
  return { imported: [], failed: [], skipped: [] };
}

class ImportFlow {
  running = $state(false);
  /** Conflicts still to be decided; the dialog shows the first. */
  conflicts = $state<Conflict[]>([]);
  /** Set when a run is complete and its summary should be shown. */
  summary = $state<ImportSummary | null>(null);
  #pending: ImportSummary = emptySummary();

  get currentConflict(): Conflict | null {
    return this.conflicts[0] ?? null;
  }

  /** Runs one import operation (files, image, clipboard) and takes over its report. */
  async run(operation: () => Promise<ImportReport>, source = ""): Promise<void> {
    this.#pending = emptySummary();
    this.summary = null;
    this.running = true;
    try {
      this.#absorb(await operation());
    } catch (error) {
      this.#fail(source, error as CommandError);
    } finally {
      this.running = false;
    }
    await this.#finishIfDone();
  }

  async resolve(action: ConflictAction): Promise<void> {
    const conflict = this.currentConflict;
    if (!conflict) return;
    this.running = true;
    try {
      const report = await api.resolveConflict(conflict.id, action);
      if (action === "skip") this.#pending.skipped.push(conflict);
      this.conflicts = this.conflicts.slice(1);
      this.#absorb(report);
    } catch (error) {
      this.conflicts = this.conflicts.slice(1);
      this.#fail(conflict.source, error as CommandError);
    } finally {
      this.running = false;
    }
    await this.#finishIfDone();
  }

  closeSummary(): void {
    this.summary = null;
  }

  #absorb(report: ImportReport): void {
    this.#pending.imported.push(...report.imported);
    this.#pending.failed.push(...report.failed);
    this.conflicts = [...this.conflicts, ...report.conflicts];
  }

  #fail(source: string, error: CommandError): void {
    this.#pending.failed.push({
      source,
      kind: error.kind,
      message: error.message,
      diagnostics: error.diagnostics,
    });
  }

  async #finishIfDone(): Promise<void> {
    if (this.conflicts.length > 0) return;
    this.summary = this.#pending;
    this.#pending = emptySummary();
    const first = this.summary.imported[0];
    await tunnels.refresh();
    if (first) await tunnels.select(first.name);
  }

  reset(): void {
    this.running = false;
    this.conflicts = [];
    this.summary = null;
    this.#pending = emptySummary();
  }
}

export const importFlow = new ImportFlow();
