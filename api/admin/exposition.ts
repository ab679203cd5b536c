/**
 * Joins Prometheus text expositions. BullMQ renders one text per queue, each with its own `# HELP` and
 * `# TYPE` lines; simply concatenated, the same family would appear once per queue, which Prometheus
 * rejects ("second HELP line for metric name"). Here every family keeps one HELP and TYPE, followed by
 * all of its samples.
 */
interface Family {
  help?: string;
  type?: string;
  samples: string[];
}

/** Samples of a histogram or summary carry a suffix the family name does not have. */
const SAMPLE_SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

export function mergeExpositions(texts: string[]): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let entry = families.get(name);
    if (!entry) families.set(name, (entry = { samples: [] }));
    return entry;
  };
  const familyOfSample = (name: string): Family => {
    if (families.has(name)) return family(name);
    const suffix = SAMPLE_SUFFIXES.find((s) => name.endsWith(s) && families.has(name.slice(0, -s.length)));
    return family(suffix ? name.slice(0, -suffix.length) : name);
  };
  for (const line of texts.flatMap((text) => text.split('\n'))) {
    const comment = /^# (HELP|TYPE) (\S+)/.exec(line);
    if (comment) {
      const entry = family(comment[2]!);
      if (comment[1] === 'HELP') entry.help ??= line;
      else entry.type ??= line;
    } else if (line.trim() && !line.startsWith('#')) {
      familyOfSample(/^[^{\s]+/.exec(line)![0]).samples.push(line);
    }
  }
  const lines = [...families.values()].flatMap((f) => [f.help, f.type, ...f.samples].filter((l) => l !== undefined));
  return lines.length ? lines.join('\n') + '\n' : '';
}
