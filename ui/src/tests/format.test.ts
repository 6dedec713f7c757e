import { describe, expect, it } from "vitest";
import { formatAgo, formatBytes, formatDuration, formatRate } from "../lib/format";

describe("formatDuration", () => {
  it("names every non-zero unit with singular and plural forms", () => {
    expect(formatDuration(63, "en")).toBe("1 minute, 3 seconds");
    expect(formatDuration(1, "en")).toBe("1 second");
    expect(formatDuration(120, "en")).toBe("2 minutes");
    expect(formatDuration(3600 + 1, "en")).toBe("1 hour, 1 second");
    expect(formatDuration(2 * 86400 + 3 * 3600 + 4 * 60 + 5, "en")).toBe("2 days, 3 hours, 4 minutes, 5 seconds");
    expect(formatDuration(0, "en")).toBe("0 seconds");
  });

  it("is localised", () => {
    expect(formatDuration(63, "zh-CN")).toBe("1 分钟 3 秒");
  });
});

describe("formatAgo", () => {
  const now = 1_700_000_000_000;
  it("says how long ago a handshake was", () => {
    expect(formatAgo(now / 1000 - 63, now, "en")).toBe("1 minute, 3 seconds ago");
    expect(formatAgo(now / 1000 - 63, now, "zh-CN")).toBe("1 分钟 3 秒前");
  });
  it("handles no handshake and clock skew", () => {
    expect(formatAgo(null, now, "en")).toBe("Never");
    expect(formatAgo(0, now, "en")).toBe("Never");
    expect(formatAgo(now / 1000 + 5, now, "en")).toBe("Now");
    expect(formatAgo(null, now, "zh-CN")).toBe("从未");
  });
});

describe("formatBytes and formatRate", () => {
  it("uses binary units with two decimals", () => {
    expect(formatBytes(0, "en")).toBe("0 B");
    expect(formatBytes(512, "en")).toBe("512 B");
    expect(formatBytes(1024, "en")).toBe("1.00 KiB");
    expect(formatBytes(1.23 * 1024 * 1024, "en")).toBe("1.23 MiB");
    expect(formatBytes(5 * 1024 ** 3, "en")).toBe("5.00 GiB");
    expect(formatBytes(3 * 1024 ** 5, "en")).toBe("3,072.00 TiB");
  });
  it("formats rates per second, localised", () => {
    expect(formatRate(1536, "en")).toBe("1.50 KiB/s");
    expect(formatRate(1536, "zh-CN")).toBe("1.50 KiB/秒");
  });
});
