// Closing the window to the tray: Ctrl+W, and the editor's question about unsaved edits
// when the window is asked to close (closing destroys the window).
import { emit } from "@tauri-apps/api/event";
import { fireEvent, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { installBackend, renderApp, summary, type FakeBackend } from "./backend";

const CLOSE_REQUESTED = "tauri://close-requested";
const MAIN = { label: "main" };

describe("Ctrl+W", () => {
  it("asks the window to close, with Ctrl or Cmd", async () => {
    const backend = installBackend();
    await renderApp();
    const user = userEvent.setup();
    await user.keyboard("{Control>}w{/Control}");
    await waitFor(() => expect(backend.callsOf("plugin:window|close")).toEqual([MAIN]));
    await user.keyboard("{Meta>}W{/Meta}");
    await waitFor(() => expect(backend.callsOf("plugin:window|close")).toEqual([MAIN, MAIN]));
    expect(backend.callsOf("plugin:window|destroy")).toEqual([]);
  });

  it("works while the service is not connected", async () => {
    const backend = installBackend({ connection: { state: "service_not_running", socket: "/run/culvert/culvertd.sock" } });
    await renderApp({ waitFor: "connection" });
    await userEvent.setup().keyboard("{Control>}w{/Control}");
    await waitFor(() => expect(backend.callsOf("plugin:window|close")).toEqual([MAIN]));
  });

  it("does nothing while a dialog is open, and is listed in the help", async () => {
    const backend = installBackend();
    await renderApp();
    const user = userEvent.setup();
    await user.click(screen.getByTestId("help-button"));
    const dialog = await screen.findByTestId("help-dialog");
    expect(dialog).toHaveTextContent("Ctrl+W");
    expect(dialog).toHaveTextContent("Close the window (Culvert stays in the tray)");
    await user.keyboard("{Control>}w{/Control}");
    expect(screen.getByTestId("help-dialog")).toBeInTheDocument();
    await fireEvent.keyDown(dialog, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("help-dialog")).not.toBeInTheDocument());
    expect(backend.callsOf("plugin:window|close")).toEqual([]);
    // With the dialog gone the same keys close the window.
    await user.keyboard("{Control>}w{/Control}");
    await waitFor(() => expect(backend.callsOf("plugin:window|close")).toEqual([MAIN]));
  });
});

async function openEditor(): Promise<{ backend: FakeBackend; textarea: HTMLTextAreaElement }> {
  const backend = installBackend({ tunnels: [summary("alpha")] });
  await renderApp();
  await fireEvent.click(await screen.findByTestId("edit-tunnel"));
  const textarea = (await screen.findByTestId("editor-text")) as HTMLTextAreaElement;
  await waitFor(() => expect(backend.listensTo(CLOSE_REQUESTED)).toBe(true));
  return { backend, textarea };
}

describe("closing the window from the editor", () => {
  it("asks before discarding unsaved edits, and destroys the window only when confirmed", async () => {
    const { backend, textarea } = await openEditor();
    await fireEvent.input(textarea, { target: { value: `${textarea.value}# changed\n` } });

    await emit(CLOSE_REQUESTED);
    const dialog = await screen.findByTestId("discard-dialog");
    expect(backend.callsOf("plugin:window|destroy")).toEqual([]);

    // Keep editing: the window stays, the edits too.
    await fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByTestId("discard-dialog")).not.toBeInTheDocument());
    expect(screen.getByTestId("editor-text")).toBeInTheDocument();
    expect(textarea.value).toContain("# changed");
    expect(backend.callsOf("plugin:window|destroy")).toEqual([]);

    // Asked again and confirmed: the window goes.
    await emit(CLOSE_REQUESTED);
    await fireEvent.click(within(await screen.findByTestId("discard-dialog")).getByTestId("confirm-button"));
    await waitFor(() => expect(backend.callsOf("plugin:window|destroy")).toEqual([MAIN]));
  });

  it("Cancel's discard question still only leaves the editor", async () => {
    const { backend, textarea } = await openEditor();
    await fireEvent.input(textarea, { target: { value: `${textarea.value}# changed\n` } });
    // A close request answered "keep editing" must not make a later Cancel destroy the window.
    await emit(CLOSE_REQUESTED);
    await fireEvent.click(within(await screen.findByTestId("discard-dialog")).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByTestId("discard-dialog")).not.toBeInTheDocument());

    await fireEvent.click(screen.getByTestId("editor-cancel"));
    await fireEvent.click(within(await screen.findByTestId("discard-dialog")).getByTestId("confirm-button"));
    await waitFor(() => expect(screen.queryByTestId("editor-text")).not.toBeInTheDocument());
    expect(backend.callsOf("plugin:window|destroy")).toEqual([]);
    // Out of the editor nothing holds the window open any more.
    await waitFor(() => expect(backend.listensTo(CLOSE_REQUESTED)).toBe(false));
  });

  it("lets the window close without asking when nothing changed", async () => {
    const { backend } = await openEditor();
    await emit(CLOSE_REQUESTED);
    await waitFor(() => expect(backend.callsOf("plugin:window|destroy")).toEqual([MAIN]));
    expect(screen.queryByTestId("discard-dialog")).not.toBeInTheDocument();
  });
});
