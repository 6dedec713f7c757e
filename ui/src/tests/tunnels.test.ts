import { fireEvent, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { clock } from "../lib/stores/clock.svelte";
import { emitService, installBackend, renderApp, statsEvent, summary, PUBLIC_KEY_A } from "./backend";

afterEach(() => {
  vi.useRealTimers();
});

describe("tunnel list", () => {
  it("shows every tunnel with its state as text and dot", async () => {
    installBackend({
      tunnels: [
        summary("alpha"),
        summary("beta", { status: "active" }),
        summary("gamma", { status: "activating" }),
        summary("delta", { status: "error", message: "no route to host" }),
      ],
    });
    await renderApp();
    const expected: Record<string, [string, string]> = {
      alpha: ["Inactive", "status-inactive"],
      beta: ["Active", "status-active"],
      gamma: ["Activating", "status-activating"],
      delta: ["Error", "status-error"],
    };
    for (const [name, [text, dotClass]] of Object.entries(expected)) {
      const item = screen.getByTestId(`tunnel-item-${name}`);
      expect(item).toHaveTextContent(text);
      expect(item.querySelector(".status")).toHaveClass(dotClass);
      expect(item).toHaveAttribute("role", "option");
    }
  });

  it("shows the detail of the selected tunnel", async () => {
    const backend = installBackend();
    await renderApp();
    await fireEvent.click(screen.getByTestId("tunnel-item-beta"));
    await waitFor(() => expect(screen.getByRole("heading", { level: 2, name: "beta" })).toBeInTheDocument());
    expect(screen.getByTestId("tunnel-item-beta")).toHaveAttribute("aria-selected", "true");
    expect(screen.getByTestId("tunnel-state")).toHaveTextContent(/^Active$/);
    expect(screen.getByTestId("interface-public-key")).toHaveTextContent(PUBLIC_KEY_A);
    expect(screen.getByText("10.0.0.2/32")).toBeInTheDocument();
    expect(screen.getByText("1.1.1.1")).toBeInTheDocument();
    expect(screen.getByText("1420")).toBeInTheDocument();
    expect(screen.getByText("203.0.113.5:51820")).toBeInTheDocument();
    expect(screen.getByTestId("peer-handshake")).toHaveTextContent("Never");
    expect(backend.callsOf("get_tunnel")).toContainEqual({ name: "beta" });
  });

  it("copies the public key", async () => {
    const backend = installBackend();
    await renderApp();
    await screen.findByTestId("interface-public-key");
    await fireEvent.click(screen.getByTestId("copy-public-key"));
    await waitFor(() =>
      expect(backend.callsOf("plugin:clipboard-manager|write_text")).toContainEqual(expect.objectContaining({ text: PUBLIC_KEY_A })),
    );
  });

  it("moves the selection with the arrow keys and toggles with Space", async () => {
    const backend = installBackend({ tunnels: [summary("a1"), summary("b2"), summary("c3")] });
    await renderApp();
    const user = userEvent.setup();
    screen.getByTestId("tunnel-item-a1").focus();
    await user.keyboard("{ArrowDown}");
    await waitFor(() => expect(screen.getByTestId("tunnel-item-b2")).toHaveAttribute("aria-selected", "true"));
    expect(screen.getByTestId("tunnel-item-b2")).toHaveFocus();
    await user.keyboard("{ArrowDown}{ArrowDown}");
    await waitFor(() => expect(screen.getByTestId("tunnel-item-c3")).toHaveFocus());
    await user.keyboard("{ArrowUp}");
    await waitFor(() => expect(screen.getByTestId("tunnel-item-b2")).toHaveFocus());
    await user.keyboard("{Home}");
    await waitFor(() => expect(screen.getByTestId("tunnel-item-a1")).toHaveFocus());
    await user.keyboard("{End}");
    await waitFor(() => expect(screen.getByTestId("tunnel-item-c3")).toHaveFocus());
    await user.keyboard(" ");
    await waitFor(() => expect(backend.callsOf("activate")).toEqual([{ name: "c3" }]));
    await user.keyboard("{Enter}");
    await waitFor(() => expect(screen.getByTestId("toggle-tunnel")).toHaveFocus());
  });
});

describe("activation, routing and kill switch", () => {
  it("activates and deactivates with one button", async () => {
    const backend = installBackend({ tunnels: [summary("alpha")] });
    await renderApp();
    const toggle = await screen.findByTestId("toggle-tunnel");
    expect(toggle).toHaveTextContent("Activate");
    expect(screen.queryByTestId("routing-mode")).not.toBeInTheDocument();
    await fireEvent.click(toggle);
    await waitFor(() => expect(screen.getByTestId("tunnel-state")).toHaveTextContent(/^Active$/));
    expect(backend.callsOf("activate")).toEqual([{ name: "alpha" }]);
    expect(screen.getByTestId("toggle-tunnel")).toHaveTextContent("Deactivate");
    await waitFor(() => expect(screen.getByTestId("toggle-tunnel")).toBeEnabled());
    await fireEvent.click(screen.getByTestId("toggle-tunnel"));
    await waitFor(() => expect(screen.getByTestId("tunnel-state")).toHaveTextContent(/^Inactive$/));
    expect(backend.callsOf("deactivate")).toEqual([{ name: "alpha" }]);
  });

  it("shows the service's error when activation fails", async () => {
    installBackend({
      tunnels: [summary("alpha")],
      overrides: {
        activate: () => {
          throw { kind: "permission_denied", message: "cannot create the TUN device" };
        },
      },
    });
    await renderApp();
    await fireEvent.click(await screen.findByTestId("toggle-tunnel"));
    expect(await screen.findByRole("alert")).toHaveTextContent("cannot create the TUN device");
  });

  it("sets the routing mode and the kill switch (only in full mode)", async () => {
    const backend = installBackend({ tunnels: [summary("beta", { status: "active" })] });
    await renderApp();
    const mode = (await screen.findByTestId("routing-mode")) as HTMLSelectElement;
    expect(mode.value).toBe("split");
    expect([...mode.options].map((o) => o.value).sort()).toEqual(["exclude_private", "full", "split"]);
    const killSwitch = screen.getByTestId("kill-switch");
    expect(killSwitch).toBeDisabled();
    expect(screen.getByText(/only applies in Full tunnel mode/)).toBeInTheDocument();

    await fireEvent.change(mode, { target: { value: "full" } });
    await waitFor(() => expect(backend.callsOf("set_routing_mode")).toEqual([{ name: "beta", mode: "full" }]));
    await waitFor(() => expect(screen.getByTestId("kill-switch")).toBeEnabled());
    await fireEvent.click(screen.getByTestId("kill-switch"));
    await waitFor(() => expect(backend.callsOf("set_kill_switch")).toEqual([{ name: "beta", enabled: true }]));
    expect(screen.getByTestId("kill-switch")).toBeChecked();
  });

  it("follows tunnel_state events", async () => {
    const backend = installBackend({ tunnels: [summary("alpha")] });
    await renderApp();
    const state = { status: "error", message: "handshake failed" } as const;
    backend.tunnels[0].state = state;
    await emitService({ type: "tunnel_state", name: "alpha", state });
    await waitFor(() => expect(screen.getByTestId("tunnel-item-alpha")).toHaveTextContent("Error"));
    await waitFor(() => expect(screen.getByText("handshake failed")).toBeInTheDocument());
  });
});

describe("live statistics", () => {
  it("updates handshake, rx and tx from stats events and draws the rate chart", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = 1_700_000_000_000;
    vi.setSystemTime(start);
    installBackend({ tunnels: [summary("beta", { status: "active" })] });
    await renderApp();
    await screen.findByTestId("peer-rx");
    expect(screen.getByTestId("peer-rx")).toHaveTextContent("0 B");

    await emitService(statsEvent("beta", 1024 * 1024, 2048, start / 1000 - 63));
    await waitFor(() => expect(screen.getByTestId("peer-rx")).toHaveTextContent("1.00 MiB"));
    expect(screen.getByTestId("peer-tx")).toHaveTextContent("2.00 KiB");
    expect(screen.getByTestId("peer-handshake")).toHaveTextContent("1 minute, 3 seconds ago");
    // One event is only a baseline: no rate yet.
    expect(screen.getByTestId("rate-rx-line").getAttribute("points")).toBe("");

    // The handshake text ticks with the clock.
    clock.now = start + 1000;
    await waitFor(() => expect(screen.getByTestId("peer-handshake")).toHaveTextContent("1 minute, 4 seconds ago"));

    vi.setSystemTime(start + 2000);
    await emitService(statsEvent("beta", 3 * 1024 * 1024, 2048 + 2 * 1024, start / 1000 - 63));
    await waitFor(() => expect(screen.getByTestId("rate-rx")).toHaveTextContent("1.00 MiB/s"));
    expect(screen.getByTestId("rate-tx")).toHaveTextContent("1.00 KiB/s");
    expect(screen.getByTestId("rate-rx-line").getAttribute("points")).not.toBe("");
    expect(screen.getByTestId("peer-rx")).toHaveTextContent("3.00 MiB");
  });

  it("keeps rate history for a tunnel that is not selected", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = 1_700_000_000_000;
    vi.setSystemTime(start);
    installBackend({ tunnels: [summary("alpha"), summary("beta", { status: "active" })] });
    await renderApp();
    await screen.findByRole("heading", { level: 2, name: "alpha" });
    await emitService(statsEvent("beta", 0, 0));
    vi.setSystemTime(start + 1000);
    await emitService(statsEvent("beta", 4096, 1024));
    await fireEvent.click(screen.getByTestId("tunnel-item-beta"));
    await waitFor(() => expect(screen.getByTestId("rate-rx")).toHaveTextContent("4.00 KiB/s"));
    const chart = screen.getByTestId("rate-chart");
    expect(within(chart).getByTestId("rate-tx")).toHaveTextContent("1.00 KiB/s");
    expect(screen.getByTestId("peer-rx")).toHaveTextContent("4.00 KiB");
  });
});
