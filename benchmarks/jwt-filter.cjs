// JWT verification with the npm library `jose` (v5, CommonJS build): the bearer token in the
// Authorization header is verified with the key from the filter config, `sub` is passed upstream as
// x-jwt-sub, anything else gets a 401. config: {alg: 'HS256', secret} or {alg: 'ES256', jwk}.
const crypto = require('node:crypto');
const { jwtVerify } = require('jose');
const { defineFilter } = require('nodevoy');

const keys = new Map(); // config JSON -> KeyObject, made once per environment
function keyFor(config) {
  const id = JSON.stringify(config);
  let key = keys.get(id);
  if (!key) {
    key =
      config.alg === 'HS256'
        ? crypto.createSecretKey(Buffer.from(config.secret, 'utf8'))
        : crypto.createPublicKey({ key: config.jwk, format: 'jwk' });
    keys.set(id, key);
  }
  return key;
}

exports.jwt = defineFilter({
  async onRequestHeaders(req, ctx) {
    const auth = req.headers.get('authorization');
    if (!auth?.startsWith('Bearer ')) return ctx.respond(401, 'missing bearer token');
    let payload;
    try {
      ({ payload } = await jwtVerify(auth.slice(7), keyFor(ctx.config), {
        algorithms: [ctx.config.alg],
        issuer: ctx.config.issuer,
      }));
    } catch (e) {
      return ctx.respond(401, `invalid token: ${e.code || e.message}`);
    }
    req.headers.set('x-jwt-sub', String(payload.sub));
    return undefined;
  },
});
