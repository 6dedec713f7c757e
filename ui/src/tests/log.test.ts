import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { LogLine } from "../lib/types";
import { emitService, installBackend, renderApp } from "./backend";

const line = (seq: number, level: LogLine["level"], message: string, target = "culvertd::tunnel"): LogLine => ({
  seq,
  unix_millis: 1_700_000_000_000 + seq,
  level,
  target,
  message,
});

async function openLog(lines: LogLine[]) {
  const backend = installBackend({ log: lines });
  await renderApp();
  await fireEvent.click(screen.getByTestId("nav-log"));
  await screen.findByTestId("log-view");
  return backend;
}

describe("log view", () => {
  it("loads the last 1000 lines and appends live lines", async () => {
    const backend = await openLog([line(1, "info", "service started"), line(2, "warn", "slow handshake")]);
    expect(backend.callsOf("read_log")).toEqual([{ since: null, limit: 1000 }]);
    await waitFor(() => expect(screen.getAllByTestId("log-line")).toHaveLength(2));
    await emitService({ type: "log", ...line(3, "error", "endpoint unreachable") });
    await waitFor(() => expect(screen.getAllByTestId("log-line")).toHaveLength(3));
    expect(screen.getAllByTestId("log-line")[2]).toHaveTextContent("endpoint unreachable");
    // A line already seen is not added twice.
    await emitService({ type: "log", ...line(3, "error", "endpoint unreachable") });
    expect(screen.getAllByTestId("log-line")).toHaveLength(3);
  });

  it("filters by level and by text", async () => {
    await openLog([
      line(1, "info", "service started"),
      line(2, "warn", "slow handshake", "culvert_engine"),
      line(3, "error", "endpoint unreachable"),
      line(4, "debug", "timer fired"),
    ]);
    await waitFor(() => expect(screen.getAllByTestId("log-line")).toHaveLength(4));
    await fireEvent.change(screen.getByTestId("log-level"), { target: { value: "warn" } });
    await waitFor(() => expect(screen.getAllByTestId("log-line")).toHaveLength(2));
    await fireEvent.input(screen.getByTestId("log-filter"), { target: { value: "ENGINE" } });
    await waitFor(() => expect(screen.getAllByTestId("log-line")).toHaveLength(1));
    expect(screen.getByTestId("log-line")).toHaveTextContent("slow handshake");
  });

  it("copies the visible lines as text and toggles follow", async () => {
    const backend = await openLog([line(1, "info", "service started"), line(2, "error", "boom")]);
    await waitFor(() => expect(screen.getAllByTestId("log-line")).toHaveLength(2));
    await fireEvent.change(screen.getByTestId("log-level"), { target: { value: "error" } });
    await fireEvent.click(screen.getByTestId("log-copy"));
    await waitFor(() => expect(backend.callsOf("plugin:clipboard-manager|write_text")).toHaveLength(1));
    const copied = backend.callsOf("plugin:clipboard-manager|write_text")[0].text as string;
    expect(copied).toMatch(/ERROR culvertd::tunnel: boom$/);
    expect(copied).not.toContain("service started");

    const follow = screen.getByTestId("log-follow");
    expect(follow).toHaveAttribute("aria-pressed", "true");
    await fireEvent.click(follow);
    expect(follow).toHaveAttribute("aria-pressed", "false");
    expect(follow).toHaveTextContent("Follow");
  });
});
