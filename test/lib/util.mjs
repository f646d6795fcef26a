// Waiting and ports for the end-to-end suites.
//   sleep(ms)
//   waitFor(fn, {timeoutMs = 10000, intervalMs = 25}) polls fn (may be async) until it returns a truthy
//       value, which it resolves; rejects on timeout.
//   freePort() -> Promise<number>   a TCP port on 127.0.0.1 that was free a moment ago.
//   canConnect(port) -> Promise<boolean>
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

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export { canConnect } from '../../cli/net.mjs';
