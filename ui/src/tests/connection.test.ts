import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { describe, expect, it } from "vitest";
import App from "../App.svelte";
import type { ConnectionStatus } from "../lib/types";
import { emitConnection, installBackend, renderApp } from "./backend";

describe("connection screen", () => {
  it("shows Connecting… before the first answer, never a blank window", async () => {
    let answer: (status: ConnectionStatus) => void = () => {};
    const backend = installBackend({ overrides: { connection_status: () => new Promise((resolve) => (answer = resolve)) } });
    render(App);
    expect(await screen.findByTestId("connection-screen")).toHaveTextContent("Connecting to the Culvert service…");
    await waitFor(() => expect(backend.callsOf("connection_status")).toHaveLength(1));
    expect(screen.getByTestId("connection-screen")).toHaveTextContent("Connecting to the Culvert service…");
    answer({ state: "connected", service_version: "0.1.0" });
    await screen.findByRole("listbox");
  });

  it("says the service is not running and how to start it", async () => {
    installBackend({ connection: { state: "service_not_running", socket: "/run/culvert/culvertd.sock" } });
    await renderApp({ waitFor: "connection" });
    const screenEl = screen.getByTestId("connection-screen");
    expect(screenEl).toHaveTextContent("The Culvert service is not running");
    expect(screenEl).toHaveTextContent("/run/culvert/culvertd.sock");
    expect(screenEl).toHaveTextContent("sudo systemctl start culvertd");
    expect(screen.getByRole("alert")).toBeInTheDocument();
  });

  it("says how to join the group when permission is denied", async () => {
    installBackend({ connection: { state: "permission_denied", socket: "/run/culvert/culvertd.sock", group: "culvert" } });
    await renderApp({ waitFor: "connection" });
    const screenEl = screen.getByTestId("connection-screen");
    expect(screenEl).toHaveTextContent("Permission denied");
    expect(screenEl).toHaveTextContent("sudo usermod -aG culvert $USER");
    expect(screenEl).toHaveTextContent("log out and log in again");
  });

  it("explains a version mismatch and a failure", async () => {
    installBackend({ connection: { state: "version_mismatch", service: "2", client: "1" } });
    await renderApp({ waitFor: "connection" });
    expect(screen.getByTestId("connection-screen")).toHaveTextContent("The service (version 2) and this app (version 1) do not match");
    await emitConnection({ state: "failed", message: "socket timed out" });
    await waitFor(() => expect(screen.getByTestId("connection-screen")).toHaveTextContent("The connection failed: socket timed out"));
  });

  it("retries with reconnect and then shows the app", async () => {
    const backend = installBackend({ connection: { state: "service_not_running", socket: "/run/culvert/culvertd.sock" } });
    await renderApp({ waitFor: "connection" });
    expect(backend.callsOf("list_tunnels")).toEqual([]);
    await fireEvent.click(screen.getByTestId("connection-retry"));
    await screen.findByRole("listbox");
    expect(backend.callsOf("reconnect")).toHaveLength(1);
    expect(screen.queryByTestId("connection-screen")).not.toBeInTheDocument();
  });

  it("follows culvert://connection events both ways", async () => {
    installBackend();
    await renderApp();
    await emitConnection({ state: "service_not_running", socket: "/run/culvert/culvertd.sock" });
    await screen.findByTestId("connection-screen");
    await emitConnection({ state: "connected", service_version: "0.1.0" });
    await screen.findByRole("listbox");
  });

  it("shows a failure outside Tauri instead of hanging", async () => {
    clearMocks();
    render(App);
    await waitFor(() => expect(screen.getByTestId("connection-screen")).toHaveAttribute("data-state", "failed"));
  });
});
