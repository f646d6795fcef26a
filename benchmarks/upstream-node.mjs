// Fallback upstream for benchmarks/run.mjs when nginx is missing: a node:http server in its own
// process. GET /check -> "allowed", anything else -> "ok\n" (request bodies are read and dropped).
// Usage: node benchmarks/upstream-node.mjs PORT   (prints "listening PORT" when ready)
import http from 'node:http';

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    const body = req.url === '/check' ? 'allowed' : 'ok\n';
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
    res.end(body);
  });
});
server.keepAliveTimeout = 300000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
process.on('SIGTERM', () => process.exit(0));
