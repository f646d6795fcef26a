// A bundle with a syntax error (test/envoy.reload.test.mjs): a listener update pointing at it must be
// rejected while the listener already serving keeps its bundle.
const { defineFilter } = require('nodevoy');

exports.bundle = defineFilter({
  onResponseHeaders(res) {
    res.headers.set('x-bundle', 'broken'
  },
});
