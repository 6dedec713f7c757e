import { fireEvent, screen, waitFor, within } from "@testing-library/svelte";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Validation } from "../lib/types";
import { installBackend, renderApp, summary, PUBLIC_KEY_A } from "./backend";

const DERIVED = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";

/** validate_config that flags a line "Foo = …" as an error and derives a key from a real PrivateKey. */
function fakeValidate({ text }: Record<string, unknown>): Validation {
  const lines = String(text).split("\n");
  const diagnostics: Validation["diagnostics"] = [];
  lines.forEach((line, i) => {
    if (line.startsWith("Foo")) {
      diagnostics.push({ line: i + 1, column: 1, span: { start: 0, end: 3 }, key: "Foo", severity: "error", message: "unknown key Foo" });
    }
    if (line.startsWith("MTU = 100")) {
      diagnostics.push({ line: i + 1, column: 7, span: { start: 0, end: 3 }, key: "MTU", severity: "warning", message: "MTU is very small" });
    }
  });
  const realKey = lines.some((line) => /^PrivateKey = [A-Za-z0-9+/]{43}=$/.test(line));
  return { ok: !diagnostics.some((d) => d.severity === "error"), diagnostics, public_key: realKey ? DERIVED : null };
}

async function openEditor() {
  const backend = installBackend({
    tunnels: [summary("alpha")],
    overrides: { validate_config: fakeValidate, update_tunnel: () => ({ warnings: [] }), reveal_private_key: () => "cGxhaW4gc2VjcmV0IGtleSBmb3IgdGVzdHMgb25seSE=" },
  });
  await renderApp();
  await fireEvent.click(await screen.findByTestId("edit-tunnel"));
  const textarea = (await screen.findByTestId("editor-text")) as HTMLTextAreaElement;
  await waitFor(() => expect(backend.callsOf("validate_config").length).toBeGreaterThan(0));
  return { backend, textarea };
}

describe("editor", () => {
  it("shows the redacted text, highlighted, with the stored public key", async () => {
    const { textarea } = await openEditor();
    expect(textarea.value).toContain("PrivateKey = (hidden)");
    expect(screen.getByTestId("editor-public-key")).toHaveTextContent(PUBLIC_KEY_A);
    const layer = document.querySelector("pre.code-layer")!;
    expect(layer.querySelector(".tok-section")).toHaveTextContent("[Interface]");
    expect(layer.querySelector(".tok-key")).toHaveTextContent("PrivateKey");
    await waitFor(() => expect(screen.getByTestId("editor-save")).toBeEnabled());
  });

  it("validates on change, marks the line, disables save and moves the cursor on click", async () => {
    const { backend, textarea } = await openEditor();
    const text = textarea.value.replace("Address = 10.0.0.2/32", "Address = 10.0.0.2/32\nFoo = bar\nMTU = 100");
    await fireEvent.input(textarea, { target: { value: text } });
    await waitFor(() => expect(screen.getByTestId("editor-save")).toBeDisabled());
    expect(backend.callsOf("validate_config").at(-1)).toEqual({ text });
    expect(screen.getByTestId("gutter-line-4")).toHaveAttribute("data-severity", "error");
    expect(screen.getByTestId("gutter-line-5")).toHaveAttribute("data-severity", "warning");
    expect(screen.getByTestId("gutter-line-3")).not.toHaveAttribute("data-severity");
    const messages = screen.getAllByTestId("diagnostic");
    expect(messages[0]).toHaveTextContent("line 4, column 1: unknown key Foo");
    expect(messages[1]).toHaveTextContent("line 5, column 7: MTU is very small");

    await fireEvent.click(messages[1]);
    const expectedOffset = text.split("\n").slice(0, 4).join("\n").length + 1 + 6;
    expect(textarea).toHaveFocus();
    expect(textarea.selectionStart).toBe(expectedOffset);

    // Fixing the error enables Save again.
    await fireEvent.input(textarea, { target: { value: text.replace("Foo = bar\n", "") } });
    await waitFor(() => expect(screen.getByTestId("editor-save")).toBeEnabled());
    expect(screen.queryByTestId("gutter-line-4")).not.toHaveAttribute("data-severity", "error");
  });

  it("shows the public key derived from a typed private key", async () => {
    const { textarea } = await openEditor();
    const text = textarea.value.replace("PrivateKey = (hidden)", "PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=");
    await fireEvent.input(textarea, { target: { value: text } });
    await waitFor(() => expect(screen.getByTestId("editor-public-key")).toHaveTextContent(DERIVED));
    await fireEvent.input(textarea, { target: { value: text.replace(/PrivateKey = .*/, "PrivateKey = nope") } });
    await waitFor(() => expect(screen.getByTestId("editor-public-key")).toHaveTextContent("no valid private key"));
  });

  it("saves with update_tunnel (Ctrl+S too) and closes", async () => {
    const { backend, textarea } = await openEditor();
    const text = textarea.value + "# edited\n";
    await fireEvent.input(textarea, { target: { value: text } });
    await waitFor(() => expect(backend.callsOf("validate_config").at(-1)).toEqual({ text }));
    await userEvent.setup().keyboard("{Control>}s{/Control}");
    await waitFor(() => expect(backend.callsOf("update_tunnel")).toEqual([{ name: "alpha", configText: text }]));
    await waitFor(() => expect(screen.queryByTestId("editor-text")).not.toBeInTheDocument());
  });

  it("shows the service's refusal to save", async () => {
    const { backend, textarea } = await openEditor();
    backend.handlers.update_tunnel = () => {
      throw { kind: "invalid_config", message: "the config is invalid", diagnostics: ["line 2: bad address"] };
    };
    await fireEvent.input(textarea, { target: { value: textarea.value + "\n" } });
    await waitFor(() => expect(screen.getByTestId("editor-save")).toBeEnabled());
    await fireEvent.click(screen.getByTestId("editor-save"));
    const error = await screen.findByTestId("save-error");
    expect(error).toHaveTextContent("the config is invalid");
    expect(error).toHaveTextContent("line 2: bad address");
    expect(screen.getByTestId("editor-text")).toBeInTheDocument();
  });

  it("asks before discarding unsaved changes", async () => {
    const { textarea } = await openEditor();
    await fireEvent.input(textarea, { target: { value: textarea.value + "# x\n" } });
    await fireEvent.click(screen.getByTestId("editor-cancel"));
    const dialog = await screen.findByTestId("discard-dialog");
    await fireEvent.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(screen.getByTestId("editor-text")).toBeInTheDocument();
    await fireEvent.click(screen.getByTestId("editor-cancel"));
    await fireEvent.click(within(await screen.findByTestId("discard-dialog")).getByTestId("confirm-button"));
    await waitFor(() => expect(screen.queryByTestId("editor-text")).not.toBeInTheDocument());
  });

  it("reveals the private key only when asked", async () => {
    const { backend } = await openEditor();
    expect(backend.callsOf("reveal_private_key")).toEqual([]);
    await fireEvent.click(screen.getByTestId("reveal-private-key"));
    const dialog = await screen.findByTestId("private-key-dialog");
    expect(backend.callsOf("reveal_private_key")).toEqual([{ name: "alpha" }]);
    expect(within(dialog).getByTestId("private-key-value")).toHaveTextContent("cGxhaW4gc2VjcmV0IGtleSBmb3IgdGVzdHMgb25seSE=");
    await fireEvent.keyDown(dialog, { key: "Escape" });
    await waitFor(() => expect(screen.queryByTestId("private-key-dialog")).not.toBeInTheDocument());
  });
});

describe("create tunnel", () => {
  it("validates the name, creates the tunnel and opens the editor (Ctrl+N)", async () => {
    const backend = installBackend({ tunnels: [summary("alpha")] });
    backend.handlers.create_tunnel = ({ name }) => {
      const created = summary(String(name));
      backend.tunnels.push(created);
      return {
        summary: created,
        config_text_redacted: "[Interface]\nPrivateKey = (hidden)\n",
        interface: { public_key: "NEWKEYNEWKEYNEWKEYNEWKEYNEWKEYNEWKEYNEWKEY0=", addresses: [], dns: [], listen_port: null, mtu: null },
        peers: [],
      };
    };
    await renderApp();
    const user = userEvent.setup();
    await user.keyboard("{Control>}n{/Control}");
    const dialog = await screen.findByTestId("create-dialog");
    const input = within(dialog).getByTestId("name-input");
    expect(input).toHaveFocus();
    const confirm = within(dialog).getByTestId("name-confirm");
    await user.type(input, "bad name!");
    expect(confirm).toBeDisabled();
    expect(input).toHaveAttribute("aria-invalid", "true");
    await user.clear(input);
    await user.type(input, "office-vpn");
    expect(confirm).toBeEnabled();
    await user.click(confirm);
    await waitFor(() => expect(backend.callsOf("create_tunnel")).toEqual([{ name: "office-vpn" }]));
    const textarea = (await screen.findByTestId("editor-text")) as HTMLTextAreaElement;
    expect(textarea.value).toBe("[Interface]\nPrivateKey = (hidden)\n");
    expect(screen.getByTestId("tunnel-item-office-vpn")).toHaveAttribute("aria-selected", "true");
  });

  it("shows the service's refusal in the dialog", async () => {
    installBackend({
      overrides: {
        create_tunnel: () => {
          throw { kind: "already_exists", message: "a tunnel named alpha exists" };
        },
      },
    });
    await renderApp();
    await fireEvent.click(screen.getByTestId("create-tunnel"));
    const dialog = await screen.findByTestId("create-dialog");
    await fireEvent.input(within(dialog).getByTestId("name-input"), { target: { value: "alpha" } });
    await fireEvent.click(within(dialog).getByTestId("name-confirm"));
    expect(await within(dialog).findByTestId("name-error")).toHaveTextContent("a tunnel named alpha exists");
  });
});
