// Human units for durations, handshakes, byte counts and rates, in the given locale.
import { translate, type Locale, type MessageKey } from "./i18n/translate";

const UNITS: { seconds: number; one: MessageKey; other: MessageKey }[] = [
  { seconds: 86400, one: "time.day.one", other: "time.day.other" },
  { seconds: 3600, one: "time.hour.one", other: "time.hour.other" },
  { seconds: 60, one: "time.minute.one", other: "time.minute.other" },
  { seconds: 1, one: "time.second.one", other: "time.second.other" },
];

/** "1 minute, 3 seconds"; every non-zero unit from days down to seconds. */
export function formatDuration(totalSeconds: number, locale: Locale): string {
  let remaining = Math.max(0, Math.floor(totalSeconds));
  const parts: string[] = [];
  for (const unit of UNITS) {
    const count = Math.floor(remaining / unit.seconds);
    remaining -= count * unit.seconds;
    if (count > 0) {
      parts.push(translate(locale, count === 1 ? unit.one : unit.other, { count }));
    }
  }
  if (parts.length === 0) return translate(locale, "time.second.other", { count: 0 });
  return parts.join(translate(locale, "time.separator"));
}

/** "1 minute, 3 seconds ago" for a handshake at `unixSeconds`; "Never" when there was none. */
export function formatAgo(unixSeconds: number | null, nowMillis: number, locale: Locale): string {
  if (unixSeconds === null || unixSeconds <= 0) return translate(locale, "time.never");
  const elapsed = Math.floor(nowMillis / 1000 - unixSeconds);
  if (elapsed <= 0) return translate(locale, "time.now");
  return translate(locale, "time.ago", { duration: formatDuration(elapsed, locale) });
}

const BYTE_UNITS: MessageKey[] = [
  "bytes.b",
  "bytes.kib",
  "bytes.mib",
  "bytes.gib",
  "bytes.tib",
];

/** Binary units: "512 B", "1.23 MiB". */
export function formatBytes(bytes: number, locale: Locale): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 ? 0 : 2;
  const number = new Intl.NumberFormat(locale, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
  return translate(locale, BYTE_UNITS[unit], { n: number });
}

/** Bytes per second: "1.23 MiB/s". */
export function formatRate(bytesPerSecond: number, locale: Locale): string {
  return translate(locale, "bytes.per_second", { value: formatBytes(bytesPerSecond, locale) });
}

/** Wall-clock time of a log line, "14:03:07.123". */
export function formatClock(unixMillis: number): string {
  const date = new Date(unixMillis);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}
