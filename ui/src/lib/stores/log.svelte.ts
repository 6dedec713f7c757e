// The service log: the last lines on connect, then live lines from events.
import { api } from "../api";
import { LOG_LEVELS, type CommandError, type LogLevel, type LogLine } from "../types";
import { notices } from "./notices.svelte";

const INITIAL_LINES = 1000;
const MAX_LINES = 5000;

export type LevelFilter = "all" | LogLevel;

/** True when `level` is `filter` or more severe. */
export function levelPasses(level: LogLevel, filter: LevelFilter): boolean {
  return filter === "all" || LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(filter);
}

export function lineText(line: LogLine, clockText: string): string {
  return `${clockText} ${line.level.toUpperCase()} ${line.target}: ${line.message}`;
}

class Log {
  lines = $state.raw<LogLine[]>([]);
  level = $state<LevelFilter>("all");
  text = $state("");
  follow = $state(true);

  visible = $derived.by(() => {
    const needle = this.text.trim().toLowerCase();
    return this.lines.filter(
      (line) =>
        levelPasses(line.level, this.level) &&
        (needle === "" ||
          line.message.toLowerCase().includes(needle) ||
          line.target.toLowerCase().includes(needle)),
    );
  });

  async load(): Promise<void> {
    try {
      const initial = await api.readLog(null, INITIAL_LINES);
      // Lines that arrived as events while read_log was in flight are kept once.
      const seen = new Set(initial.map((line) => line.seq));
      const merged = [...initial, ...this.lines.filter((line) => !seen.has(line.seq))];
      merged.sort((a, b) => a.seq - b.seq);
      this.lines = merged.slice(-MAX_LINES);
    } catch (error) {
      notices.error(error as CommandError);
    }
  }

  append(line: LogLine): void {
    const last = this.lines[this.lines.length - 1];
    if (last && line.seq <= last.seq) return;
    const next = [...this.lines, line];
    this.lines = next.length > MAX_LINES ? next.slice(-MAX_LINES) : next;
  }

  reset(): void {
    this.lines = [];
    this.level = "all";
    this.text = "";
    this.follow = true;
  }
}

export const log = new Log();
