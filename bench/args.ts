// Command-line options of the bench scripts: `--name value`, with a default.
export function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

/** An environment given as `--name K=V,K=V` (empty when the option is absent). */
export function envArg(name: string): Record<string, string> {
  return Object.fromEntries(arg(name, '').split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
}
