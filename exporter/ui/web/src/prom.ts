// Samples of the Prometheus text exposition format (what /metrics answers
// without an Accept header), for the few families the page reads.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** parseMetrics returns the samples of the families whose name want accepts; comments and other lines are skipped. */
export function parseMetrics(text: string, want: (name: string) => boolean): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!want(name)) continue;
    let i = nameEnd;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0 || line[eq + 1] !== '"') return out; // malformed: stop rather than guess
        const lname = line.slice(i, eq).trim();
        let j = eq + 2;
        let v = '';
        while (j < line.length && line[j] !== '"') {
          if (line[j] === '\\' && j + 1 < line.length) {
            const e = line[j + 1];
            v += e === 'n' ? '\n' : e;
            j += 2;
          } else v += line[j++];
        }
        labels[lname] = v;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      i++; // '}'
    }
    const fields = line.slice(i).trim().split(/\s+/);
    const value = parseValue(fields[0]);
    if (!Number.isNaN(value) || fields[0] === 'NaN') out.push({ name, labels, value });
  }
  return out;
}

function parseValue(s: string | undefined): number {
  if (s === undefined || s === '') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  return Number(s);
}
