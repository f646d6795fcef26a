// The upstream HTTP server the suites put behind the proxy.
//
//   startUpstream(handler?) -> Promise<{port, requests, close()}>
//       A node:http server on 127.0.0.1:<free port>. `requests` collects one record per request,
//       pushed when the request head arrives and completed in place:
//         {method, path, headers, body /*utf8 so far*/, trailers /*req.trailers*/, complete /*bool*/}.
//       Special paths (checked first, whatever the handler):
//         /stall                  never responds
//         /reset-before-headers   destroys the socket at once
//         /reset-mid-body         writes headers and part of a chunked body, then destroys the socket
//         /chunked-trailers       chunked "hello world" with the trailer `x-up-trailer: t`
//         /big?n=BYTES            n bytes of 'a' (content-length framed)
//       Everything else goes to handler(req, res, record) once the request body has ended, or by
//       default to the echo: 200, application/json, {method, path, headers, body, trailers}.
//       close() destroys open connections and resolves once the server is closed.
import http from 'node:http';

export async function startUpstream(handler) {
  const requests = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const record = { method: req.method, path: req.url, headers: req.headers, body: '', trailers: {}, complete: false };
    requests.push(record);
    const url = new URL(req.url, 'http://upstream');
    const chunks = [];
    req.on('data', (d) => {
      chunks.push(d);
      record.body = Buffer.concat(chunks).toString('utf8');
    });
    req.on('error', () => {});
    res.on('error', () => {});

    switch (url.pathname) {
      case '/stall':
        req.resume();
        return; // never answered
      case '/reset-before-headers':
        req.socket.destroy();
        return;
      case '/reset-mid-body':
        res.writeHead(200, { 'content-type': 'text/plain' }); // chunked: no content-length
        res.write('partial-body-');
        setTimeout(() => req.socket.destroy(), 50);
        return;
      default:
        break;
    }

    req.on('end', () => {
      record.complete = true;
      record.trailers = req.trailers;
      if (url.pathname === '/chunked-trailers') {
        res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-up-trailer' });
        res.write('hello ');
        res.write('world');
        res.addTrailers({ 'x-up-trailer': 't' });
        res.end();
        return;
      }
      if (url.pathname === '/big') {
        const n = Number(url.searchParams.get('n') || '0');
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(n) });
        const block = Buffer.alloc(Math.min(n, 64 * 1024), 'a');
        let left = n;
        const pump = () => {
          while (left > 0) {
            const piece = left >= block.length ? block : block.subarray(0, left);
            left -= piece.length;
            if (!res.write(piece)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
        return;
      }
      if (handler) {
        handler(req, res, record);
        return;
      }
      const out = JSON.stringify({
        method: req.method,
        path: req.url,
        headers: req.headers,
        body: record.body,
        trailers: req.trailers,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(out)) });
      res.end(out);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('clientError', (err, socket) => socket.destroy());
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  server.unref(); // a forgotten upstream must not keep the test process alive
  let closed = false;
  return {
    port: server.address().port,
    requests,
    server,
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
    },
  };
}
