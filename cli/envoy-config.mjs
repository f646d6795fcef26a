// The Envoy configs the CLI writes for a filter package: a static bootstrap (`nodevoy envoy-config`), and
// for `nodevoy dev` a bootstrap whose listener comes from a watched LDS file, so a rebuilt filter is
// swapped in without restarting Envoy.
import { toYaml } from './yaml.mjs';

const DM_FILTER = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const STDOUT_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';
/** An access log line `nodevoy dev` reads back: status, method, path, duration. */
export const ACCESS_MARK = '[nodevoy-access]';

/** "host:port" -> {host, port}; a bare port means 127.0.0.1. */
export function parseAddress(s, what) {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(String(s));
  if (!m || Number(m[2]) > 65535) throw new Error(`${what}: expected host:port or a port, got "${s}"`);
  return { host: m[1] ?? '127.0.0.1', port: Number(m[2]) };
}

function socket({ host, port }) {
  return { socket_address: { address: host, port_value: port } };
}

/** Clusters by name from {name: "host:port"}. */
function clusters(upstreams) {
  return Object.entries(upstreams).map(([name, addr]) => {
    const a = parseAddress(addr, `cluster ${name}`);
    const ip = /^[\d.]+$/.test(a.host);
    return {
      name,
      connect_timeout: '5s',
      type: ip ? 'STATIC' : 'STRICT_DNS',
      load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(a) } }] }] },
    };
  });
}

/**
 * The listener: every request goes through the package's filters (in order), then to the `upstream`
 * cluster. filters: [{name, module, config}] (module: the bundle's absolute path).
 */
export function listener({ listen, filters, accessLog = false }) {
  const hcm = {
    '@type': HCM,
    stat_prefix: 'ingress',
    route_config: {
      virtual_hosts: [
        { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'upstream' } }] },
      ],
    },
    http_filters: [
      ...filters.map((f) => ({
        name: f.name,
        typed_config: {
          '@type': DM_FILTER,
          dynamic_module_config: { name: 'nodevoy', do_not_close: true },
          filter_name: f.name,
          filter_config: {
            '@type': 'type.googleapis.com/google.protobuf.StringValue',
            value: JSON.stringify({ module: f.module, config: f.config ?? {} }),
          },
        },
      })),
      { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } },
    ],
  };
  if (accessLog) {
    hcm.access_log = [
      {
        name: 'envoy.access_loggers.stdout',
        typed_config: {
          '@type': STDOUT_LOG,
          log_format: {
            text_format_source: {
              inline_string: `${ACCESS_MARK} %RESPONSE_CODE% %REQ(:METHOD)% %REQ(:PATH)% %DURATION% %RESPONSE_CODE_DETAILS%\n`,
            },
          },
        },
      },
    ];
  }
  return {
    '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener',
    name: 'nodevoy',
    address: socket(parseAddress(listen, 'listen')),
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] }],
  };
}

/** A static bootstrap: the listener, the clusters and the admin interface. */
export function staticBootstrap({ listen, admin, upstreams, filters, accessLog }) {
  const l = listener({ listen, filters, accessLog });
  delete l['@type'];
  return `${toYaml({
    admin: { address: socket(parseAddress(admin, 'admin')) },
    static_resources: { listeners: [l], clusters: clusters(upstreams) },
  })}\n`;
}

/** A bootstrap whose listener is read from ldsPath (a DiscoveryResponse) and re-read when dir changes. */
export function ldsBootstrap({ admin, upstreams, ldsPath, dir }) {
  return `${toYaml({
    node: { id: 'nodevoy-dev', cluster: 'nodevoy-dev' },
    admin: { address: socket(parseAddress(admin, 'admin')) },
    dynamic_resources: {
      lds_config: {
        path_config_source: { path: ldsPath, watched_directory: { path: dir } },
        resource_api_version: 'V3',
      },
    },
    static_resources: { clusters: clusters(upstreams) },
  })}\n`;
}

/** The LDS file's content for one version of the listener. */
export function ldsResponse(version, l) {
  return `${toYaml({ version_info: String(version), resources: [l] })}\n`;
}
