// Whether a TCP port accepts connections (the CLI waits for Envoy's listener with it; so do the tests).
import net from 'node:net';

export function canConnect(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
