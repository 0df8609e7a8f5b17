// Whether the CLI may write ANSI control sequences (colour, cursor movement) to a stream: only to a
// terminal, and never when the user has set NO_COLOR (https://no-color.org: any non-empty value).
export function allowsAnsi(out: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return out.isTTY === true && (env.NO_COLOR ?? '') === '';
}
