import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { installBackend, renderApp } from "./backend";

describe("settings", () => {
  it("loads settings and saves each change", async () => {
    const backend = installBackend();
    await renderApp();
    await fireEvent.click(screen.getByTestId("nav-settings"));
    expect(screen.getByTestId("nav-settings")).toHaveAttribute("aria-current", "page");
    await fireEvent.click(screen.getByTestId("setting-start-at-login"));
    await waitFor(() =>
      expect(backend.callsOf("set_settings").at(-1)).toEqual({
        settings: { locale: "en", theme: "light", start_at_login: true, notifications: true },
      }),
    );
    await fireEvent.click(screen.getByTestId("setting-notifications"));
    await waitFor(() => expect(backend.settings.notifications).toBe(false));
    expect(screen.getByTestId("setting-notifications")).not.toBeChecked();
  });

  it("applies the theme to :root[data-theme]", async () => {
    installBackend();
    await renderApp();
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe("light"));
    await fireEvent.click(screen.getByTestId("nav-settings"));
    await fireEvent.change(screen.getByTestId("setting-theme"), { target: { value: "dark" } });
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe("dark"));
  });

  it("switches the language to Simplified Chinese", async () => {
    installBackend();
    await renderApp();
    await fireEvent.click(screen.getByTestId("nav-settings"));
    await fireEvent.change(screen.getByTestId("setting-locale"), { target: { value: "zh-CN" } });
    await waitFor(() => expect(screen.getByTestId("nav-tunnels")).toHaveTextContent("隧道"));
    expect(screen.getByTestId("nav-settings")).toHaveTextContent("设置");
    expect(document.documentElement.lang).toBe("zh-CN");
    await fireEvent.click(screen.getByTestId("nav-tunnels"));
    expect(await screen.findByTestId("tunnel-item-alpha")).toHaveTextContent("未激活");
    expect(screen.getByTestId("toggle-tunnel")).toHaveTextContent("激活");
  });
});
