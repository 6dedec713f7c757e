// Pure lookup and interpolation; the reactive locale lives in index.svelte.ts.
import { en, type MessageKey } from "./en";
import { zhCN } from "./zh-CN";
import type { LocaleSetting } from "../types";

export type { MessageKey };
export type Locale = "en" | "zh-CN";
export type Params = Record<string, string | number>;

export const dictionaries: Record<Locale, Record<MessageKey, string>> = {
  en,
  "zh-CN": zhCN,
};

/** "system" follows the webview's language: any Chinese variant picks zh-CN, else English. */
export function resolveLocale(setting: LocaleSetting, systemLanguage?: string): Locale {
  if (setting !== "system") return setting;
  const language =
    systemLanguage ?? (typeof navigator !== "undefined" ? navigator.language : "en");
  return language.toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

export function translate(locale: Locale, key: MessageKey, params?: Params): string {
  const template = dictionaries[locale][key] ?? en[key] ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}
