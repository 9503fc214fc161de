// Option parsing in the style of the original: `--name value`, `--name=value` and `-name value` all work.
export class UsageError extends Error {}

export interface Parsed {
  positional: string[];
  options: Map<string, string | true>;
}

export function parseArgs(argv: string[], spec: { flags?: string[]; values?: string[] }): Parsed {
  const flags = new Set(spec.flags ?? []);
  const values = new Set(spec.values ?? []);
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') {
      positional.push(a);
      continue;
    }
    let name = a.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    name = name.replace(/-/g, '_');
    if (flags.has(name)) {
      if (value !== undefined && !/^(1|0|yes|no|true|false)$/.test(value)) throw new UsageError(`option --${name} takes no value`);
      if (value === undefined || /^(1|yes|true)$/.test(value)) options.set(name, true);
      continue;
    }
    if (!values.has(name)) throw new UsageError(`unknown option '${a}'`);
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`option --${name} needs a value`);
    }
    if (options.has(name)) throw new UsageError(`option --${name} given twice`);
    options.set(name, value);
  }
  return { positional, options };
}

export function intOption(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = p.options.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${String(v)}'`);
  }
  return Number(v);
}
