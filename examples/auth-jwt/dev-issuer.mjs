#!/usr/bin/env node
// A throwaway token issuer for trying the example: generates an RS256 key, serves its JWKS on
// http://127.0.0.1:10002/.well-known/jwks.json (the "jwks" cluster of envoy.yaml) and prints tokens.
//   node examples/auth-jwt/dev-issuer.mjs [subject]
import http from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

const ISSUER = 'https://issuer.example.com';
const sub = process.argv[2] ?? 'alice';
const { publicKey, privateKey } = await generateKeyPair('RS256');
const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'dev-1', alg: 'RS256', use: 'sig' }] });
const token = (aud) =>
  new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: 'dev-1' })
    .setIssuer(ISSUER)
    .setAudience(aud)
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);

http
  .createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  })
  .listen(10002, '127.0.0.1', async () => {
    console.log('JWKS on http://127.0.0.1:10002/.well-known/jwks.json (Ctrl-C to stop)\n');
    console.log(`curl -H "authorization: Bearer ${await token('api')}" localhost:10000/hello\n`);
    console.log(`curl -H "authorization: Bearer ${await token('admin-api')}" localhost:10000/admin\n`);
  });
