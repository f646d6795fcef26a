import { defineFilter } from 'nodevoy';
export const esm = defineFilter({
  async onRequestHeaders(req) {
    req.headers.set('x-esm', String(typeof import.meta.url));
  },
});
