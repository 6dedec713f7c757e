// The current locale as reactive state, and `t` for components.
import type { LocaleSetting } from "../types";
import { resolveLocale, translate, type Locale, type MessageKey, type Params } from "./translate";

export type { Locale, MessageKey, Params };

class LocaleState {
  setting = $state<LocaleSetting>("system");
  current = $derived<Locale>(resolveLocale(this.setting));
}

export const i18n = new LocaleState();

export function setLocaleSetting(setting: LocaleSetting): void {
  i18n.setting = setting;
  if (typeof document !== "undefined") document.documentElement.lang = i18n.current;
}

/** Looks up `key` in the current locale; reading it inside a template makes it reactive. */
export function t(key: MessageKey, params?: Params): string {
  return translate(i18n.current, key, params);
}
