// Filters measured by the cost benchmark.
const { defineFilter } = require('nodevoy');
exports.passthrough = defineFilter({});
exports.rewrite = defineFilter({
  onRequestHeaders(req) {
    req.headers.set('x-added', 'yes');
    req.headers.delete('x-remove');
  },
  onResponseHeaders(res) {
    res.headers.set('x-resp', '1');
  },
});
