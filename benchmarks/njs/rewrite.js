// The header rewrite of benchmarks/filters.cjs `rewrite`, in nginx njs. njs cannot change the
// request headers nginx forwards (r.headersIn is read-only), so the idiomatic form is js_set
// variables used by proxy_set_header (an empty value drops the header), and a js_header_filter for
// the response header. See benchmarks/run.mjs for the nginx config.
function added(r) {
  return 'yes';
}
function removed(r) {
  return '';
}
function response(r) {
  r.headersOut['x-resp'] = '1';
}
// Not on the measured path: lets the runner record njs's own version.
function version(r) {
  r.return(200, njs.version);
}
export default { added, removed, response, version };
