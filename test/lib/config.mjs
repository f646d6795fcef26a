// The Envoy bootstrap the suites run: the same YAML for nodevoy-host and real Envoy.
//
//   hostConfig(opts) -> string (an Envoy v3 bootstrap in YAML, Envoy's own field names)
//       opts = {
//         port, adminPort?,                               listener / admin ports
//         filters: [{name?, module: 'fixture'|'nodevoy'|..., filterName, config, doNotClose = true,
//                    metricsNamespace?}],                 config: object -> google.protobuf.Struct,
//                                                         string -> google.protobuf.StringValue,
//                                                         undefined -> no filter_config
//         clusters: {name: port, ...},
//         routes?: [{prefix | path, cluster | direct: {status, body?},
//                    perFilter?: {key: {perRouteName?, config}}, timeout?: '0.5s'}],
//                                                         default: one route prefix "/" -> first cluster.
//                                                         perFilter keys are http filter names; a key
//                                                         that is some filter's filterName maps to it.
//         bufferLimit?,                                   listener per_connection_buffer_limit_bytes
//         listenerExtra?, bootstrapExtra?                 extra raw fields (to test rejection)
//       }
//       A filter's http filter `name` defaults to its filterName (suffixed _2, _3... when repeated).
//       {name, typedConfig} instead is any other Envoy http filter (Lua, Wasm...), written as given.
//
//   toYaml(value) -> block YAML for plain data (every string quoted).
import { toYaml } from '../../cli/yaml.mjs';

export { toYaml };

function anyConfig(config) {
  if (config === undefined) return undefined;
  if (typeof config === 'string') return { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: config };
  return { '@type': 'type.googleapis.com/google.protobuf.Struct', value: config };
}

const DM_FILTER = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter';
const DM_PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilterPerRoute';

// trailers (default true): Envoy's HTTP/1 codecs drop trailers unless enable_trailers is set, on the
// listener's HCM for the client side and on each cluster for the upstream side; the suites want them
// passed on both sides, `trailers: false` keeps Envoy's default (dropped).
// With an admin port, stats are flushed every 0.5 s: Envoy shows histogram samples only after a
// flush (default every 5 s).
export function hostConfig(opts) {
  const {
    port,
    adminPort,
    filters = [],
    clusters = {},
    routes,
    bufferLimit,
    listenerExtra,
    bootstrapExtra,
    trailers = true,
  } = opts;
  const clusterNames = Object.keys(clusters);

  const used = new Map();
  const named = filters.map((f) => {
    let name = f.name;
    if (!name) {
      const n = (used.get(f.filterName) || 0) + 1;
      used.set(f.filterName, n);
      name = n === 1 ? f.filterName : `${f.filterName}_${n}`;
    }
    return { ...f, name };
  });

  // A filter with `typedConfig` is any other Envoy http filter (Lua, Wasm...), given as is (Envoy only).
  const httpFilters = named.map((f) =>
    f.typedConfig
      ? { name: f.name, typed_config: f.typedConfig }
      : {
          name: f.name,
          typed_config: {
            '@type': DM_FILTER,
            dynamic_module_config: {
              name: f.module,
              do_not_close: f.doNotClose === undefined ? true : f.doNotClose,
              metrics_namespace: f.metricsNamespace,
            },
            filter_name: f.filterName,
            filter_config: anyConfig(f.config),
          },
        },
  );
  httpFilters.push({
    name: 'envoy.filters.http.router',
    typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
  });

  const routeList = (routes || [{ prefix: '/', cluster: clusterNames[0] }]).map((r) => {
    const out = { match: r.path !== undefined ? { path: r.path } : { prefix: r.prefix ?? '/' } };
    if (r.direct) {
      out.direct_response = { status: r.direct.status };
      if (r.direct.body !== undefined) out.direct_response.body = { inline_string: r.direct.body };
    } else {
      out.route = { cluster: r.cluster ?? clusterNames[0] };
      if (r.timeout !== undefined) out.route.timeout = r.timeout;
    }
    if (r.perFilter) {
      out.typed_per_filter_config = {};
      for (const [key, pf] of Object.entries(r.perFilter)) {
        const f = named.find((x) => x.name === key) || named.find((x) => x.filterName === key);
        const filterKey = f ? f.name : key;
        const entry = { '@type': DM_PER_ROUTE };
        entry.dynamic_module_config = { name: f ? f.module : 'fixture', do_not_close: true };
        if (pf.perRouteName !== undefined) entry.per_route_config_name = pf.perRouteName;
        const any = anyConfig(pf.config);
        if (any) entry.filter_config = any;
        out.typed_per_filter_config[filterKey] = entry;
      }
    }
    return out;
  });

  const listener = {
    name: 'main',
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    ...(bufferLimit !== undefined ? { per_connection_buffer_limit_bytes: bufferLimit } : {}),
    ...(listenerExtra || {}),
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'ingress',
              ...(trailers ? { http_protocol_options: { enable_trailers: true } } : {}),
              route_config: {
                name: 'local',
                virtual_hosts: [{ name: 'all', domains: ['*'], routes: routeList }],
              },
              http_filters: httpFilters,
            },
          },
        ],
      },
    ],
  };

  const bootstrap = {};
  if (adminPort !== undefined) {
    bootstrap.admin = { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } };
    bootstrap.stats_flush_interval = '0.5s';
  }
  bootstrap.static_resources = {
    listeners: [listener],
    clusters: clusterNames.map((name) => ({
      name,
      connect_timeout: '5s', // Envoy's default; 1 s tripped under ASan on a loaded machine
      type: 'STATIC',
      load_assignment: {
        cluster_name: name,
        // A port, or a list of ports for a cluster with several endpoints.
        endpoints: [
          {
            lb_endpoints: [clusters[name]]
              .flat()
              .map((p) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: p } } } })),
          },
        ],
      },
      ...(trailers
        ? {
            typed_extension_protocol_options: {
              'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
                '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
                explicit_http_config: { http_protocol_options: { enable_trailers: true } },
              },
            },
          }
        : {}),
    })),
  };
  Object.assign(bootstrap, bootstrapExtra || {});
  return `${toYaml(bootstrap)}\n`;
}
