// The demo filter: a header rewrite plus an async check against a local "auth" service.
import { defineFilter } from 'nodevoy';

interface DemoConfig {
  /** Base URL of the service that says whether a user may pass. */
  authUrl: string;
}

export const demo = defineFilter<DemoConfig>({
  async onRequestHeaders(req, ctx) {
    req.headers.set('x-nodevoy', 'hello from TypeScript');
    const user = req.headers.get('x-user');
    if (!user) return ctx.respond(401, 'who are you? send an x-user header\n');
    // Real async I/O inside Envoy's worker: the stream is parked until the promise settles.
    const check = await fetch(`${ctx.config.authUrl}/check?user=${encodeURIComponent(user)}`, { signal: ctx.signal });
    if (check.status !== 200) return ctx.respond(403, `user ${user} is not allowed\n`);
    const { role } = (await check.json()) as { role: string };
    req.headers.set('x-user-role', role);
    ctx.log.info(`let ${user} (${role}) through to ${req.path}`);
  },

  onResponseHeaders(res) {
    res.headers.set('x-served-by', 'nodevoy-demo');
  },
});
