import { describe, expect, it } from "vitest";
import { highlightConfig, offsetOf, tokenizeLine } from "../lib/highlight";

describe("tokenizeLine", () => {
  it("splits sections, keys, values and comments", () => {
    expect(tokenizeLine("[Interface]")).toEqual([{ kind: "section", text: "[Interface]" }]);
    expect(tokenizeLine("Address = 10.0.0.2/32 # home")).toEqual([
      { kind: "key", text: "Address" },
      { kind: "equals", text: " = " },
      { kind: "value", text: "10.0.0.2/32 " },
      { kind: "comment", text: "# home" },
    ]);
    expect(tokenizeLine("  # only a comment")).toEqual([
      { kind: "text", text: "  " },
      { kind: "comment", text: "# only a comment" },
    ]);
    expect(tokenizeLine("garbage")).toEqual([{ kind: "error", text: "garbage" }]);
  });
});

describe("highlightConfig", () => {
  it("keeps every character and escapes HTML", () => {
    const text = "[Peer]\nEndpoint = <b>&x</b>\n# c";
    const html = highlightConfig(text);
    expect(html).toContain('<span class="tok-section">[Peer]</span>');
    expect(html).toContain("&lt;b&gt;&amp;x&lt;/b&gt;");
    const plain = html.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
    expect(plain).toBe(text);
  });
});

describe("offsetOf", () => {
  it("maps 1-based line and column to a character offset", () => {
    const text = "ab\ncdef\ng";
    expect(offsetOf(text, 1, 1)).toBe(0);
    expect(offsetOf(text, 2, 3)).toBe(5);
    expect(offsetOf(text, 3, 1)).toBe(8);
    expect(offsetOf(text, 2, 99)).toBe(7);
  });
});
