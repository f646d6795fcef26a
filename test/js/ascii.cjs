// ASCII upper-casing of body bytes into a fresh array: the transform the body tests, scenarios and
// benchmarks share (the native fixture's uppercase_body does the same).
exports.upper = (bytes) => {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    out[i] = c >= 97 && c <= 122 ? c - 32 : c;
  }
  return out;
};
