// HTTP clients the suites send requests with: node:http, raw bytes on a socket, a reset mid-request.
//
//   request(port, {method = 'GET', path = '/', headers = {}, body, agent, timeoutMs = 30000,
//                  trailers}) -> Promise<{status, headers, body, trailers, reusedSocket, localPort}>
//       node:http request; body: string | Buffer (one piece, content-length framed unless trailers
//       are given) | array of chunks (separate writes 20 ms apart, chunked unless a content-length
//       header is given); trailers: request trailers (forces chunked framing). agent defaults to a
//       shared keep-alive agent (keepAliveAgent); pass false for a fresh connection. Rejects on
//       connection errors, on an aborted or incomplete response (err.partial holds the body so far)
//       and on timeout.
//
//   rawRequest(port, raw, {readUntilClose = false, timeoutMs = 10000}) ->
//       Promise<{raw, status, headers, body, trailers, closed, error}>
//       Writes `raw` on a net.Socket (raw may be a string, or an array of strings written 20 ms
//       apart), then reads one HTTP/1.1 response (content-length, chunked with trailers, or until
//       close; no body after a HEAD request), or everything until the peer closes with
//       readUntilClose. Header and trailer names are lower-cased. It resolves (never rejects) when
//       the socket closes or errors early; `error` holds the error code then, `closed` says whether
//       the peer closed the connection.
//
//   resetAfter(port, rawPartialRequest, delayMs) -> Promise<{received}>
//       Writes a partial request, waits delayMs, then destroys the socket with a TCP RST.
//
//   keepAliveAgent: the shared keep-alive agent request() uses by default.
import http from 'node:http';
import net from 'node:net';
import { sleep } from './util.mjs';

export const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

// Writes a request body: an array is sent chunk by chunk (chunked encoding), a single piece with
// content-length; trailers force chunked encoding. Rejects if the peer closed first.
export async function sendBody(req, body, trailers) {
  if (Array.isArray(body)) {
    for (const c of body) {
      req.write(c);
      await sleep(20);
    }
    if (trailers) req.addTrailers(trailers);
    req.end();
  } else if (trailers) {
    if (body !== undefined) req.write(body);
    req.addTrailers(trailers);
    req.end();
  } else {
    req.end(body); // one piece: node frames it with content-length
  }
}

export function request(
  port,
  { method = 'GET', path: p = '/', headers = {}, body, agent = keepAliveAgent, timeoutMs = 30000, trailers } = {},
) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent });
    const timer = setTimeout(
      () => req.destroy(new Error(`request ${method} ${p} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      const localPort = res.socket?.localPort;
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      res.on('aborted', () => {
        clearTimeout(timer);
        reject(
          Object.assign(new Error('response aborted'), {
            code: 'ECONNRESET',
            partial: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      });
      res.on('end', () => {
        clearTimeout(timer);
        if (!res.complete) {
          reject(
            Object.assign(new Error('response incomplete'), {
              code: 'ECONNRESET',
              partial: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          return;
        }
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          trailers: res.trailers,
          reusedSocket: req.reusedSocket,
          localPort,
        });
      });
    });
    sendBody(req, body, trailers).catch(() => {});
  });
}

// Minimal HTTP/1.1 response reader over raw bytes. Returns null until one response is complete.
function parseResponse(buf, { untilClose = false, head = false } = {}) {
  const text = buf.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const lines = text.slice(0, headEnd).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) {
      const k = l.slice(0, i).trim().toLowerCase();
      const v = l.slice(i + 1).trim();
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    }
  }
  let rest = buf.subarray(headEnd + 4);
  if (head) return { status, headers, body: Buffer.alloc(0), trailers: {} };
  const trailers = {};
  if (/chunked/i.test(headers['transfer-encoding'] || '')) {
    const parts = [];
    for (;;) {
      const s = rest.toString('latin1');
      const lineEnd = s.indexOf('\r\n');
      if (lineEnd < 0) return null;
      const size = parseInt(s.slice(0, lineEnd), 16);
      if (Number.isNaN(size)) return null;
      if (size === 0) {
        // trailers then an empty line
        const tail = s.slice(lineEnd + 2);
        const end = tail.indexOf('\r\n\r\n');
        if (tail.startsWith('\r\n')) return { status, headers, body: Buffer.concat(parts), trailers };
        if (end < 0) return null;
        for (const l of tail.slice(0, end).split('\r\n')) {
          const i = l.indexOf(':');
          if (i > 0) trailers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        return { status, headers, body: Buffer.concat(parts), trailers };
      }
      if (rest.length < lineEnd + 2 + size + 2) return null;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (rest.length < n) return null;
    return { status, headers, body: rest.subarray(0, n), trailers };
  }
  if (status === 204 || status === 304 || (status >= 100 && status < 200))
    return { status, headers, body: Buffer.alloc(0), trailers };
  return untilClose ? { status, headers, body: rest, trailers } : null;
}

export function rawRequest(port, raw, { readUntilClose = false, timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    const isHead = /^HEAD /.test(Array.isArray(raw) ? raw[0] : raw);
    let done = false;
    let closed = false;
    let error = null;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      const buf = Buffer.concat(chunks);
      const parsed = parseResponse(buf, { untilClose: closed, head: isHead });
      sock.destroy();
      resolve({
        raw: buf.toString('latin1'),
        status: parsed?.status,
        headers: parsed?.headers,
        body: parsed ? parsed.body.toString('utf8') : undefined,
        trailers: parsed?.trailers,
        closed,
        error,
      });
    };
    const timer = setTimeout(() => {
      error ??= 'ETIMEDOUT';
      finish();
    }, timeoutMs);
    sock.on('data', (d) => {
      chunks.push(d);
      if (!readUntilClose && parseResponse(Buffer.concat(chunks), { head: isHead })) finish();
    });
    sock.on('error', (e) => {
      error = e.code || e.message;
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('end', () => {
      closed = true;
    });
    sock.once('connect', async () => {
      const parts = Array.isArray(raw) ? raw : [raw];
      for (let i = 0; i < parts.length; i++) {
        if (done) return;
        sock.write(parts[i]);
        if (i + 1 < parts.length) await sleep(20);
      }
    });
  });
}

export function resetAfter(port, rawPartialRequest, delayMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const chunks = [];
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', () => {});
    sock.once('connect', () => {
      sock.write(rawPartialRequest);
      setTimeout(() => {
        if (typeof sock.resetAndDestroy === 'function') sock.resetAndDestroy();
        else sock.destroy();
      }, delayMs);
    });
    sock.once('close', () => resolve({ received: Buffer.concat(chunks).toString('latin1') }));
    setTimeout(() => reject(new Error('resetAfter: socket did not close')), delayMs + 10000).unref();
  });
}
