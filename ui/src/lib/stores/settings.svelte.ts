// App settings (kept by the Tauri side) and applying theme and language.
import { api } from "../api";
import { setLocaleSetting } from "../i18n/index.svelte";
import type { CommandError, Settings, ThemeSetting } from "../types";
import { notices } from "./notices.svelte";

const DEFAULTS: Settings = {
  locale: "system",
  theme: "system",
  start_at_login: false,
  notifications: true,
};

function prefersDark(): MediaQueryList | null {
  return typeof window !== "undefined" && typeof window.matchMedia === "function"
    ? window.matchMedia("(prefers-color-scheme: dark)")
    : null;
}

/** Sets :root[data-theme]; "system" follows prefers-color-scheme, also when it changes. */
export function applyTheme(theme: ThemeSetting): void {
  const root = document.documentElement;
  root.dataset.themeSetting = theme;
  const query = prefersDark();
  root.dataset.theme = theme === "system" ? (query?.matches ? "dark" : "light") : theme;
}

let watchingSystemTheme = false;
function watchSystemTheme(): void {
  const query = prefersDark();
  if (!query || watchingSystemTheme) return;
  watchingSystemTheme = true;
  query.addEventListener("change", () => {
    if (document.documentElement.dataset.themeSetting === "system") applyTheme("system");
  });
}

class SettingsStore {
  value = $state<Settings>({ ...DEFAULTS });
  loaded = $state(false);

  apply(): void {
    setLocaleSetting(this.value.locale);
    applyTheme(this.value.theme);
    watchSystemTheme();
  }

  async load(): Promise<void> {
    try {
      this.value = await api.getSettings();
      this.loaded = true;
    } catch (error) {
      notices.error(error as CommandError);
    }
    this.apply();
  }

  async update(patch: Partial<Settings>): Promise<void> {
    try {
      this.value = await api.setSettings({ ...this.value, ...patch });
    } catch (error) {
      notices.error(error as CommandError);
    }
    this.apply();
  }

  reset(): void {
    this.value = { ...DEFAULTS };
    this.loaded = false;
    this.apply();
  }
}

export const settings = new SettingsStore();
