// Annotation templates. Prometheus renders annotations with Go text/template; the engine renders the
// same text itself. To keep the two identical, rule files may use only `{{ $labels.NAME }}` (NAME one of
// the rule's group_by labels) and `{{ $value }}`; the loader rejects anything else.

const ACTION = /\{\{\s*(.*?)\s*\}\}/g;
const LABEL_REF = /^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$/;

export type TemplatePart = { readonly text: string } | { readonly label: string } | { readonly value: true };

/** Parsed template, or a message saying what is not supported. */
export function parseTemplate(template: string, allowedLabels: readonly string[]): TemplatePart[] | string {
  const parts: TemplatePart[] = [];
  let last = 0;
  ACTION.lastIndex = 0;
  for (let m = ACTION.exec(template); m !== null; m = ACTION.exec(template)) {
    if (m.index > last) parts.push({ text: template.slice(last, m.index) });
    const action = m[1] ?? '';
    const label = LABEL_REF.exec(action);
    if (action === '$value') parts.push({ value: true });
    else if (label !== null) {
      const name = label[1] as string;
      if (!allowedLabels.includes(name)) {
        return `{{ ${action} }}: the alert's $labels are its group_by labels (${allowedLabels.join(', ') || 'none'})`;
      }
      parts.push({ label: name });
    } else {
      return `{{ ${action} }} is not supported; use {{ $labels.NAME }} or {{ $value }} so the engine and Prometheus render the same text`;
    }
    last = m.index + m[0].length;
  }
  const rest = template.slice(last);
  if (rest.includes('{{') || rest.includes('}}')) return 'has an unbalanced "{{" or "}}"';
  if (rest.length > 0) parts.push({ text: rest });
  return parts;
}

/** Renders a parsed template with the alert's group labels and value. */
export function renderTemplate(parts: readonly TemplatePart[], labels: Readonly<Record<string, string>>, value: number): string {
  let out = '';
  for (const p of parts) {
    if ('text' in p) out += p.text;
    else if ('label' in p) out += labels[p.label] ?? '';
    else out += goFloat(value);
  }
  return out;
}

/**
 * A float64 as Go's fmt prints it with %v (what `{{ $value }}` renders in Prometheus): shortest
 * round-trip digits, exponent form when the decimal exponent is below -4 or at least 6
 * (strconv 'g' with shortest precision): 1e+06, 123456.5, 1e-05.
 */
export function goFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  // Shortest round-trip digits and decimal exponent.
  const [mantissa, expText] = v.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  // fmt %v uses %g with the shortest precision, switching to exponent form when exp < -4 || exp >= 6.
  if (exp < -4 || exp >= 6) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${negative ? '-' : ''}${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${e}`;
  }
  let out: string;
  if (exp >= 0) {
    out = digits.length <= exp + 1 ? digits + '0'.repeat(exp + 1 - digits.length) : `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  } else {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  }
  return negative ? `-${out}` : out;
}
