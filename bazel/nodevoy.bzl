"""libnodevoy.so, built like CMakeLists.txt's target `nodevoy`. Instantiated by the root BUILD.bazel, so
globs and labels are relative to the repository root."""

# CMakeLists.txt: add_compile_options(...), target_compile_options(nodevoy ...), CMAKE_CXX_STANDARD 20 with
# extensions (-std=gnu++20), Release (-O3 -DNDEBUG; --compilation_mode=opt adds -DNDEBUG).
NODEVOY_COPTS = [
    "-std=gnu++20",
    "-O3",
    "-Wall",
    "-Wextra",
    "-Werror",
    # -Wrestrict: GCC 12 false positive on std::string operator+ (GCC bug 105329).
    "-Wno-restrict",
    "-fvisibility=hidden",
    "-Wno-unused-parameter",
]

NODEVOY_DEFINES = [
    "NAPI_VERSION=8",
    "NAPI_DISABLE_CPP_EXCEPTIONS",
    "NODE_WANT_INTERNALS=0",
]

_LIBNODE_SO = "@nodevoy_libnode//:usr/lib/x86_64-linux-gnu/libnode.so.108"

# The generator and its input; the genrule lays them out like the repository in a scratch directory.
_GEN_SCRIPT = "scripts/gen-binding.mjs"
_GEN_SPEC = "native/binding.spec.json"
_GEN_OUTS = [
    "native/generated/binding.gen.h",
    "native/generated/binding.gen.cc",
    "native/generated/enums.gen.h",
    "native/generated/runtime_api.gen.h",
]

def nodevoy_module(name = "libnodevoy.so", visibility = ["//visibility:public"]):
    """Declares :binding_gen, :<name> (the module) and :nodevoy (an alias of it)."""

    # scripts/gen-binding.mjs writes to fixed paths relative to its own location (<script>/../native/generated),
    # so run an unmodified copy in a scratch tree and copy the outputs out. The checked-out
    # copy in native/generated/ (which scripts/build.sh rewrites) is never read.
    native.genrule(
        name = "binding_gen",
        srcs = [_GEN_SCRIPT, _GEN_SPEC],
        outs = _GEN_OUTS,
        cmd = " && ".join([
            "T=$(RULEDIR)/_binding_gen_tree",
            "rm -rf $$T",
            "mkdir -p $$T/scripts $$T/native",
            "cp $(location %s) $$T/scripts/gen-binding.mjs" % _GEN_SCRIPT,
            "cp $(location %s) $$T/native/binding.spec.json" % _GEN_SPEC,
            "node $$T/scripts/gen-binding.mjs",
            "cp $$T/native/generated/binding.gen.h $(location native/generated/binding.gen.h)",
            "cp $$T/native/generated/binding.gen.cc $(location native/generated/binding.gen.cc)",
            "cp $$T/native/generated/enums.gen.h $(location native/generated/enums.gen.h)",
            "cp $$T/native/generated/runtime_api.gen.h $(location native/generated/runtime_api.gen.h)",
            "rm -rf $$T",
        ]),
        message = "Generating the N-API binding from native/binding.spec.json",
    )

    native.cc_binary(
        name = name,
        # Globs: .cc/.h files added to these folders later are built without touching this file.
        srcs = native.glob(
            [
                "envoy-filter/*.cc",
                "envoy-filter/*.h",
                "native/*.cc",
                "native/*.h",
            ],
            exclude = ["native/generated/**"],
        ) + [":" + f for f in _GEN_OUTS],
        copts = NODEVOY_COPTS,
        local_defines = NODEVOY_DEFINES,
        linkshared = True,
        # libnode.so.108 by path (DT_NEEDED from its soname), then CMake's other libraries; its RUNPATH
        # comes from @nodevoy_libnode//:libnode.
        additional_linker_inputs = [_LIBNODE_SO],
        linkopts = [
            "-Wl,-soname,libnodevoy.so",
            "$(location %s)" % _LIBNODE_SO,
            "-luv",
            "-lpthread",
            "-ldl",
            # Undo three defaults of Bazel's Linux toolchain so the dynamic section and the dynamic symbol
            # table match the CMake build's: gold (which also exports _edata, _end, __bss_start), -z now,
            # and -no-as-needed (DT_NEEDED libm.so.6 from the trailing -lm).
            "-fuse-ld=bfd",
            "-Wl,-z,lazy",
            "-Wl,--as-needed",
        ],
        deps = [
            "@nodevoy_libnode//:libnode",
            "@nodevoy_node_addon_api//:node_addon_api",
        ],
        visibility = visibility,
    )

    native.alias(
        name = "nodevoy",
        actual = ":" + name,
        visibility = visibility,
    )
