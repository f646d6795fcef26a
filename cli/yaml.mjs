// Block-style YAML for the Envoy configs the CLI writes (and the test harness, which builds the same shapes).
function yamlKey(k) {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k);
}

function yamlScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(String(v)); // a JSON string is a valid YAML double-quoted scalar
}

// Block-style YAML for plain JS data; every string is quoted, so nothing is re-typed by the parser.
export function toYaml(v, indent = 0) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return v
      .map((e) => {
        if (
          e !== null &&
          typeof e === 'object' &&
          !(Array.isArray(e) && e.length === 0) &&
          !(isPlainObject(e) && Object.keys(e).length === 0)
        ) {
          const inner = toYaml(e, indent + 2);
          return `${pad}- ${inner.slice(indent + 2)}`;
        }
        return `${pad}- ${toYaml(e, indent + 2)}`;
      })
      .join('\n');
  }
  if (isPlainObject(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined);
    if (keys.length === 0) return '{}';
    return keys
      .map((k) => {
        const e = v[k];
        if (
          e !== null &&
          typeof e === 'object' &&
          !(Array.isArray(e) && e.length === 0) &&
          !(isPlainObject(e) && Object.keys(e).length === 0)
        ) {
          return `${pad}${yamlKey(k)}:\n${toYaml(e, indent + 2)}`;
        }
        return `${pad}${yamlKey(k)}: ${toYaml(e, indent + 2)}`;
      })
      .join('\n');
  }
  return yamlScalar(v);
}

export function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
