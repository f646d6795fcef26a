import { defineFilter } from 'nodevoy';

/** Adds a greeting to every request on its way upstream, and says which filter served the response. */
export const hello = defineFilter<{ greeting: string }>({
  onRequestHeaders(req, ctx) {
    req.headers.set('x-greeting', ctx.config.greeting);
  },
  onResponseHeaders(res) {
    res.headers.set('x-served-by', 'hello');
  },
});
