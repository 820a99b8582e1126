/**
 * Enumerates every rule (constraint keyword) in a generated JSON Schema so the rule tests can
 * prove that each one has a case that breaks it. `type` is left out: every property has one,
 * and a wrong type is reported by the same machinery as any other violation.
 */
type Node = Record<string, unknown>;

const SIMPLE = [
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'uniqueItems',
  'maxProperties',
  'const',
  'oneOf',
  'dependentRequired',
] as const;

export function enumerateRules(task: string, payload: Node, seen: Set<string>): string[] {
  const rules: string[] = [];
  walk(payload, '', true);
  return rules;

  function walk(node: Node, path: string, root = false): void {
    const own = ownRules(node);
    if (!root && own.length + childCount(node) > 0) {
      const key = JSON.stringify(node);
      if (seen.has(key)) {
        rules.push(`${task}:${path}:shared`);
        return;
      }
      seen.add(key);
    }
    for (const rule of own) rules.push(`${task}:${path}:${rule}`);
    const properties = (node.properties ?? {}) as Record<string, Node>;
    for (const [name, child] of Object.entries(properties)) walk(child, `${path}/${name}`);
    if (node.items) walk(node.items as Node, `${path}/*`);
    for (const child of Object.values((node.patternProperties ?? {}) as Record<string, Node>))
      walk(child, `${path}/{key}`);
    const variants = node.anyOf as Node[] | undefined;
    if (variants && !isEnum(variants) && !isRequiredAlternatives(variants)) {
      for (const [index, variant] of variants.entries()) walk(variant, `${path}|${index}`);
    }
  }
}

function isEnum(variants: Node[]): boolean {
  return variants.every((variant) => 'const' in variant);
}
function isRequiredAlternatives(variants: Node[]): boolean {
  return variants.every((variant) => Object.keys(variant).join() === 'required');
}

function childCount(node: Node): number {
  return (
    Object.keys((node.properties ?? {}) as object).length + (node.items ? 1 : 0) + (node.patternProperties ? 1 : 0)
  );
}

function ownRules(node: Node): string[] {
  const rules: string[] = [];
  for (const keyword of SIMPLE) if (keyword in node) rules.push(keyword);
  if ('format' in node && !('pattern' in node)) rules.push('format');
  if (node.additionalProperties === false) rules.push('additionalProperties');
  for (const name of (node.required ?? []) as string[]) rules.push(`required:${name}`);
  if (node.patternProperties) rules.push('keyPattern');
  const variants = node.anyOf as Node[] | undefined;
  if (variants) rules.push(isEnum(variants) ? 'enum' : isRequiredAlternatives(variants) ? 'anyOf' : 'union');
  return rules;
}
