# The test kit's addon (nodevoy/testing): the module's C++ (module.cc, the stream core, the binding)
# with Envoy's side of the ABI answered by the kit's fake Envoy. Built for the Node that runs the tests.
{
  "targets": [
    {
      "target_name": "nodevoy_kit",
      "sources": [
        "../../envoy-filter/body_buffers.cc",
        "../../envoy-filter/fault_injection.cc",
        "../../envoy-filter/filter_config.cc",
        "../../envoy-filter/js_env.cc",
        "../../envoy-filter/module.cc",
        "../../envoy-filter/stream_filter.cc",
        "../../envoy-filter/watchdog.cc",
        "../binding_impl.cc",
        "../generated/binding.gen.cc",
        "kit_abi.cc",
        "kit_addon.cc",
        "kit_env.cc",
        "kit_pump.cc"
      ],
      "include_dirs": [
        "../..",
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      # node.h defines NAPI_VERSION as the running Node's (embedding headers come with it): the same value here.
      "defines": ["NAPI_VERSION=<!(node -p process.versions.napi)", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_WANT_INTERNALS=0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++20", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
        "-Wno-restrict"]
    }
  ]
}
