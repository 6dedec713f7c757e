import { fireEvent, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { installBackend, renderApp, summary } from "./backend";

describe("per-tunnel dialogs", () => {
  it("shows the QR code SVG with a private key warning", async () => {
    const backend = installBackend({
      overrides: { tunnel_qr_svg: () => '<svg xmlns="http://www.w3.org/2000/svg" data-qr="yes"><rect width="1" height="1"/></svg>' },
    });
    await renderApp();
    await userEvent.setup().click(await screen.findByTestId("show-qr"));
    const dialog = await screen.findByTestId("qr-dialog");
    await waitFor(() => expect(within(dialog).getByTestId("qr-svg").querySelector("svg[data-qr='yes']")).not.toBeNull());
    expect(dialog).toHaveTextContent("contains the tunnel's private key");
    expect(backend.callsOf("tunnel_qr_svg")).toEqual([{ name: "alpha" }]);
    await fireEvent.keyDown(dialog, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("qr-dialog")).not.toBeInTheDocument());
    expect(screen.getByTestId("show-qr")).toHaveFocus();
  });

  it("renames, and shows the service's refusal while active", async () => {
    const backend = installBackend({ tunnels: [summary("alpha")] });
    backend.handlers.rename_tunnel = ({ from, to }) => {
      if (from === "alpha" && to === "busy") throw { kind: "busy", message: "deactivate the tunnel before renaming it" };
      backend.tunnels[0].name = String(to);
      return null;
    };
    await renderApp();
    await fireEvent.click(await screen.findByTestId("rename-tunnel"));
    const dialog = await screen.findByTestId("rename-dialog");
    const input = within(dialog).getByTestId("name-input") as HTMLInputElement;
    expect(input.value).toBe("alpha");
    expect(within(dialog).getByTestId("name-confirm")).toBeDisabled();
    await fireEvent.input(input, { target: { value: "busy" } });
    await fireEvent.click(within(dialog).getByTestId("name-confirm"));
    expect(await within(dialog).findByTestId("name-error")).toHaveTextContent("deactivate the tunnel before renaming it");
    await fireEvent.input(input, { target: { value: "home" } });
    await fireEvent.click(within(dialog).getByTestId("name-confirm"));
    await waitFor(() => expect(screen.queryByTestId("rename-dialog")).not.toBeInTheDocument());
    expect(backend.callsOf("rename_tunnel")).toEqual([
      { from: "alpha", to: "busy" },
      { from: "alpha", to: "home" },
    ]);
    await waitFor(() => expect(screen.getByTestId("tunnel-item-home")).toHaveAttribute("aria-selected", "true"));
  });

  it("deletes only after confirmation", async () => {
    const backend = installBackend({ tunnels: [summary("alpha"), summary("beta")] });
    backend.handlers.delete_tunnel = ({ name }) => {
      backend.tunnels = backend.tunnels.filter((t) => t.name !== name);
      return null;
    };
    await renderApp();
    await fireEvent.click(await screen.findByTestId("delete-tunnel"));
    let dialog = await screen.findByTestId("delete-dialog");
    expect(dialog).toHaveTextContent("“alpha”");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(backend.callsOf("delete_tunnel")).toEqual([]);
    await fireEvent.click(screen.getByTestId("delete-tunnel"));
    dialog = await screen.findByTestId("delete-dialog");
    await fireEvent.click(within(dialog).getByTestId("confirm-button"));
    await waitFor(() => expect(screen.queryByTestId("tunnel-item-alpha")).not.toBeInTheDocument());
    expect(backend.callsOf("delete_tunnel")).toEqual([{ name: "alpha" }]);
  });

  it("traps focus inside a dialog", async () => {
    installBackend();
    await renderApp();
    await fireEvent.click(await screen.findByTestId("delete-tunnel"));
    const dialog = await screen.findByTestId("delete-dialog");
    const buttons = within(dialog).getAllByRole("button");
    expect(buttons[0]).toHaveFocus();
    const user = userEvent.setup();
    await user.tab();
    expect(buttons[1]).toHaveFocus();
    await user.tab();
    expect(buttons[0]).toHaveFocus();
    await user.tab({ shift: true });
    expect(buttons[1]).toHaveFocus();
  });

  it("exports one tunnel and all tunnels through save dialogs", async () => {
    const backend = installBackend({
      overrides: {
        "plugin:dialog|save": ({ options }) =>
          (options as { defaultPath: string }).defaultPath.endsWith(".zip") ? "/tmp/all.zip" : "/tmp/alpha.conf",
        export_tunnel_file: () => null,
        export_all_zip: () => null,
      },
    });
    await renderApp();
    await fireEvent.click(await screen.findByTestId("export-tunnel"));
    await waitFor(() => expect(backend.callsOf("export_tunnel_file")).toEqual([{ name: "alpha", path: "/tmp/alpha.conf" }]));
    await fireEvent.click(screen.getByTestId("export-all"));
    await waitFor(() => expect(backend.callsOf("export_all_zip")).toEqual([{ path: "/tmp/all.zip" }]));
    expect(screen.getAllByTestId("notice-info")[0]).toHaveTextContent("Exported to /tmp/alpha.conf");
  });

  it("lists the keyboard shortcuts in a help dialog", async () => {
    installBackend();
    await renderApp();
    await fireEvent.click(screen.getByTestId("help-button"));
    const dialog = await screen.findByTestId("help-dialog");
    for (const keys of ["Ctrl+N", "Ctrl+O", "Ctrl+E", "Ctrl+S", "Escape"]) expect(dialog).toHaveTextContent(keys);
  });
});
