import { describe, expect, it } from "vitest";
import { en } from "../lib/i18n/en";
import { zhCN } from "../lib/i18n/zh-CN";
import { resolveLocale, translate } from "../lib/i18n/translate";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("dictionaries", () => {
  it("have exactly the same keys", () => {
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
  });

  it("have no empty strings and the same placeholders per key", () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(en[key], key).not.toBe("");
      expect(zhCN[key], key).not.toBe("");
      expect(placeholders(zhCN[key]), key).toEqual(placeholders(en[key]));
    }
  });
});

describe("translate", () => {
  it("interpolates parameters", () => {
    expect(translate("en", "delete.text", { name: "wg0" })).toContain("“wg0”");
    expect(translate("zh-CN", "log.count", { shown: 1, total: 2 })).toBe("显示 1 / 2 行");
  });

  it("resolves system to navigator's language", () => {
    expect(resolveLocale("system", "zh-TW")).toBe("zh-CN");
    expect(resolveLocale("system", "zh-CN")).toBe("zh-CN");
    expect(resolveLocale("system", "de-DE")).toBe("en");
    expect(resolveLocale("en", "zh-CN")).toBe("en");
    expect(resolveLocale("zh-CN", "en-US")).toBe("zh-CN");
  });
});
