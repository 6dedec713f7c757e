// Syntax highlighting for wg-quick configs: sections, keys, values, comments.
// Produces HTML for the <pre> layer under the editor's textarea, so every character
// of the input appears exactly once, escaped, in the output.

export type TokenKind = "section" | "key" | "equals" | "value" | "comment" | "error" | "text";

export interface Token {
  kind: TokenKind;
  text: string;
}

const SECTION = /^(\s*)(\[[^\]]*\])(\s*)(.*)$/;
const ASSIGNMENT = /^(\s*)([A-Za-z][A-Za-z0-9]*)(\s*=\s*)(.*)$/;

export function tokenizeLine(line: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: TokenKind, text: string) => {
    if (text) tokens.push({ kind, text });
  };
  const hash = line.indexOf("#");
  const code = hash >= 0 ? line.slice(0, hash) : line;
  const comment = hash >= 0 ? line.slice(hash) : "";

  const section = SECTION.exec(code);
  const assignment = section ? null : ASSIGNMENT.exec(code);
  if (section) {
    push("text", section[1]);
    push("section", section[2]);
    push("text", section[3]);
    push("error", section[4]);
  } else if (assignment) {
    push("text", assignment[1]);
    push("key", assignment[2]);
    push("equals", assignment[3]);
    push("value", assignment[4]);
  } else if (code.trim() === "") {
    push("text", code);
  } else {
    push("error", code);
  }
  push("comment", comment);
  return tokens;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function highlightConfig(text: string): string {
  return text
    .split("\n")
    .map((line) =>
      tokenizeLine(line)
        .map((token) =>
          token.kind === "text"
            ? escapeHtml(token.text)
            : `<span class="tok-${token.kind}">${escapeHtml(token.text)}</span>`,
        )
        .join(""),
    )
    .join("\n");
}

/** The character offset of 1-based (line, column) in `text`, clamped to the text. */
export function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length - 1); i++) offset += lines[i].length + 1;
  const current = lines[Math.min(line, lines.length) - 1] ?? "";
  return offset + Math.min(Math.max(column - 1, 0), current.length);
}
