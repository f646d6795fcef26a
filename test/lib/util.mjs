// Waiting and ports for the end-to-end suites.
//   sleep(ms)
//   waitFor(fn, {timeoutMs = 10000, intervalMs = 25}) polls fn (may be async) until it returns a truthy
//       value, which it resolves; rejects on timeout.
//   freePort() -> Promise<number>   a TCP port on 127.0.0.1 that is bindable now and was not handed out
//       before by this process.
//   canConnect(port) -> Promise<boolean>
import fs from 'node:fs';
import net from 'node:net';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(fn, { timeoutMs = 10000, intervalMs = 25 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `waitFor timed out after ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`,
      );
    }
    await sleep(intervalMs);
  }
}

// Ports come from below the kernel's ephemeral range, so no port-0 bind and no outgoing connection
// (upstream servers, clients, Envoy's own upstream connections) can take one between freePort() and
// the proxy's bind; a process never hands the same port out twice. Each candidate is checked bindable.
const EPHEMERAL_LOW = (() => {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32768;
  }
})();
const PORT_LOW = 10000;
const given = new Set();

function bindable(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort() {
  const span = Math.max(EPHEMERAL_LOW - PORT_LOW, 1000);
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_LOW + Math.floor(Math.random() * span);
    if (given.has(port)) continue;
    given.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error('freePort: no bindable port found below the ephemeral range');
}

export { canConnect } from '../../cli/net.mjs';
