import { emit } from "@tauri-apps/api/event";
import { fireEvent, screen, waitFor, within } from "@testing-library/svelte";
import { describe, expect, it, vi } from "vitest";
import type { ImportReport } from "../lib/types";
import { installBackend, renderApp, summary } from "./backend";

const pickedPaths = ["/home/u/work.conf", "/home/u/all.zip"];

describe("import", () => {
  it("imports the chosen files, asks about each conflict and summarises", async () => {
    const report: ImportReport = {
      imported: [{ name: "work", source: "/home/u/work.conf", replaced: false, warnings: ["DNS has no effect without a resolver"] }],
      conflicts: [
        { id: 7, name: "alpha", source: "all.zip:alpha.conf" },
        { id: 8, name: "beta", source: "all.zip:beta.conf" },
      ],
      failed: [{ source: "all.zip:broken.conf", kind: "invalid_config", message: "line 3: bad key", diagnostics: ["line 3, column 1: unknown key Foo"] }],
    };
    const backend = installBackend({
      overrides: {
        "plugin:dialog|open": () => pickedPaths,
        import_files: () => {
          backend.tunnels.push(summary("work"));
          return report;
        },
        resolve_conflict: ({ id, action }) =>
          action === "rename"
            ? { imported: [{ name: "beta-1", source: "all.zip:beta.conf", replaced: false, warnings: [] }], conflicts: [], failed: [] }
            : { imported: [], conflicts: [], failed: [], id },
      },
    });
    await renderApp();
    await fireEvent.click(screen.getByTestId("import-button"));

    const first = await screen.findByTestId("conflict-dialog");
    expect(backend.callsOf("import_files")).toEqual([{ paths: pickedPaths }]);
    const dialogOptions = backend.callsOf("plugin:dialog|open")[0].options as { multiple: boolean; filters: { extensions: string[] }[] };
    expect(dialogOptions.multiple).toBe(true);
    expect(dialogOptions.filters[0].extensions).toEqual(expect.arrayContaining(["conf", "zip", "png", "jpg"]));
    expect(first).toHaveAttribute("role", "alertdialog");
    expect(first).toHaveTextContent("“alpha” already exists");
    // Nothing is overwritten until the user decides.
    expect(backend.callsOf("resolve_conflict")).toEqual([]);
    await fireEvent.click(within(first).getByRole("button", { name: "Skip" }));

    await waitFor(() => expect(screen.getByTestId("conflict-dialog")).toHaveTextContent("“beta” already exists"));
    await fireEvent.click(within(screen.getByTestId("conflict-dialog")).getByRole("button", { name: "Keep both" }));

    const summaryDialog = await screen.findByTestId("import-summary");
    expect(backend.callsOf("resolve_conflict")).toEqual([
      { id: 7, action: "skip" },
      { id: 8, action: "rename" },
    ]);
    expect(within(summaryDialog).getByTestId("imported-work")).toHaveTextContent("DNS has no effect without a resolver");
    expect(within(summaryDialog).getByTestId("imported-beta-1")).toBeInTheDocument();
    expect(summaryDialog).toHaveTextContent("Skipped (1)");
    const failure = within(summaryDialog).getByTestId("import-failure");
    expect(failure).toHaveTextContent("all.zip:broken.conf");
    expect(failure).toHaveTextContent("line 3, column 1: unknown key Foo");
    // The list was reloaded and shows the new tunnel.
    await waitFor(() => expect(screen.getByTestId("tunnel-item-work")).toBeInTheDocument());
  });

  it("replaces only after the user chose Replace", async () => {
    const backend = installBackend({
      overrides: {
        import_qr_clipboard: () => ({ imported: [], conflicts: [{ id: 3, name: "alpha", source: "clipboard" }], failed: [] }),
        resolve_conflict: () => ({ imported: [{ name: "alpha", source: "clipboard", replaced: true, warnings: [] }], conflicts: [], failed: [] }),
      },
    });
    await renderApp();
    await fireEvent.click(screen.getByTestId("import-qr-menu"));
    await fireEvent.click(await screen.findByTestId("import-qr-clipboard"));
    const dialog = await screen.findByTestId("conflict-dialog");
    expect(backend.callsOf("import_qr_clipboard")).toEqual([{ name: null }]);
    await fireEvent.click(within(dialog).getByRole("button", { name: "Replace" }));
    const summaryDialog = await screen.findByTestId("import-summary");
    expect(backend.callsOf("resolve_conflict")).toEqual([{ id: 3, action: "replace" }]);
    expect(within(summaryDialog).getByTestId("imported-alpha")).toHaveTextContent("replaced");
  });

  it("Escape on a conflict skips it rather than overwriting", async () => {
    const backend = installBackend({
      overrides: {
        import_qr_clipboard: () => ({ imported: [], conflicts: [{ id: 4, name: "alpha", source: "clipboard" }], failed: [] }),
        resolve_conflict: () => ({ imported: [], conflicts: [], failed: [] }),
      },
    });
    await renderApp();
    await fireEvent.click(screen.getByTestId("import-qr-menu"));
    await fireEvent.click(await screen.findByTestId("import-qr-clipboard"));
    const dialog = await screen.findByTestId("conflict-dialog");
    await fireEvent.keyDown(dialog, { key: "Escape" });
    await screen.findByTestId("import-summary");
    expect(backend.callsOf("resolve_conflict")).toEqual([{ id: 4, action: "skip" }]);
  });

  it("reports a failed import with the command's error", async () => {
    installBackend({
      overrides: {
        import_qr_clipboard: () => {
          throw { kind: "invalid_input", message: "the clipboard holds no image" };
        },
      },
    });
    await renderApp();
    await fireEvent.click(screen.getByTestId("import-qr-menu"));
    await fireEvent.click(await screen.findByTestId("import-qr-clipboard"));
    const summaryDialog = await screen.findByTestId("import-summary");
    expect(within(summaryDialog).getByTestId("import-failure")).toHaveTextContent("the clipboard holds no image");
  });

  it("imports files dropped on the window and shows an overlay while dragging", async () => {
    const backend = installBackend({
      overrides: { import_files: () => ({ imported: [{ name: "dropped", source: "/tmp/dropped.conf", replaced: false, warnings: [] }], conflicts: [], failed: [] }) },
    });
    await renderApp();
    await emit("tauri://drag-enter", { paths: ["/tmp/dropped.conf"], position: { x: 1, y: 1 } });
    expect(await screen.findByTestId("drop-overlay")).toBeInTheDocument();
    await emit("tauri://drag-drop", { paths: ["/tmp/dropped.conf"], position: { x: 1, y: 1 } });
    await screen.findByTestId("import-summary");
    expect(screen.queryByTestId("drop-overlay")).not.toBeInTheDocument();
    expect(backend.callsOf("import_files")).toEqual([{ paths: ["/tmp/dropped.conf"] }]);
  });

  it("opens the import dialog when the tray asks", async () => {
    const backend = installBackend({ overrides: { "plugin:dialog|open": () => null } });
    await renderApp();
    await emit("culvert://open-import");
    await waitFor(() => expect(backend.callsOf("plugin:dialog|open")).toHaveLength(1));
    expect(backend.callsOf("import_files")).toEqual([]);
  });

  it("opens the import dialog when the tray opened the window for it", async () => {
    const backend = installBackend({ overrides: { "plugin:dialog|open": () => null } });
    window.history.replaceState(null, "", "/index.html?open=import");
    await renderApp();
    await waitFor(() => expect(backend.callsOf("plugin:dialog|open")).toHaveLength(1));
    // Taken once: the address no longer asks for it.
    expect(window.location.search).toBe("");
  });

  it("says clearly when the camera is not available", async () => {
    installBackend();
    await renderApp();
    await fireEvent.click(screen.getByTestId("import-qr-menu"));
    await fireEvent.click(await screen.findByTestId("import-qr-camera"));
    expect(await screen.findByTestId("camera-unavailable")).toHaveTextContent("The camera is not available here.");
  });
});

describe("camera import", () => {
  it("sends frames as RGBA until one decodes, then stops the camera", async () => {
    const stopTrack = vi.fn();
    const stream = { getTracks: () => [{ stop: stopTrack }] } as unknown as MediaStream;
    Object.defineProperty(navigator, "mediaDevices", {
      configurable: true,
      value: { getUserMedia: vi.fn(async () => stream) },
    });
    const restore = [
      vi.spyOn(HTMLMediaElement.prototype, "play").mockResolvedValue(undefined),
      vi.spyOn(HTMLVideoElement.prototype, "videoWidth", "get").mockReturnValue(4),
      vi.spyOn(HTMLVideoElement.prototype, "videoHeight", "get").mockReturnValue(2),
      vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockReturnValue({
        drawImage: () => {},
        getImageData: (_x: number, _y: number, w: number, h: number) => ({ data: new Uint8ClampedArray(w * h * 4).fill(255) }),
      } as unknown as CanvasRenderingContext2D),
    ];
    try {
      let attempts = 0;
      const backend = installBackend({
        overrides: {
          import_qr_image: () => {
            attempts += 1;
            if (attempts < 2) throw { kind: "invalid_input", message: "no QR code in the image" };
            return { imported: [{ name: "phone", source: "camera", replaced: false, warnings: [] }], conflicts: [], failed: [] };
          },
        },
      });
      await renderApp();
      await fireEvent.click(screen.getByTestId("import-qr-menu"));
      await fireEvent.click(await screen.findByTestId("import-qr-camera"));
      const summaryDialog = await screen.findByTestId("import-summary", {}, { timeout: 5000 });
      expect(within(summaryDialog).getByTestId("imported-phone")).toBeInTheDocument();
      const frames = backend.callsOf("import_qr_image");
      expect(frames).toHaveLength(2);
      expect(frames[0]).toEqual({
        image: { kind: "rgba", width: 4, height: 2, base64: btoa(String.fromCharCode(...new Array(32).fill(255))) },
        name: null,
      });
      expect(stopTrack).toHaveBeenCalled();
      expect(screen.queryByTestId("camera-dialog")).not.toBeInTheDocument();
    } finally {
      restore.forEach((spy) => spy.mockRestore());
      delete (navigator as { mediaDevices?: unknown }).mediaDevices;
    }
  });
});
