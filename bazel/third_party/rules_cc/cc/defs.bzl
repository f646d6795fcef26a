"""A minimal, local stand-in for @rules_cc//cc:defs.bzl: forwards to the native C++ rules.

Bazel 4.2's @bazel_tools//tools/cpp (and the generated @local_config_cc) load cc_library, cc_toolchain and
cc_toolchain_suite from @rules_cc//cc:defs.bzl, and Bazel's default WORKSPACE suffix would download
rules_cc to provide them. Nodevoy builds offline, so its WORKSPACE points @rules_cc here instead. (Debian's
bazel-rules-cc 0.0.4 needs a newer Bazel than bazel-bootstrap's 4.2.) A workspace that pulls nodevoy in
keeps its own @rules_cc.
"""

def cc_binary(**attrs):
    native.cc_binary(**attrs)

def cc_import(**attrs):
    native.cc_import(**attrs)

def cc_library(**attrs):
    native.cc_library(**attrs)

def cc_test(**attrs):
    native.cc_test(**attrs)

def cc_proto_library(**attrs):
    native.cc_proto_library(**attrs)

def cc_toolchain(**attrs):
    native.cc_toolchain(**attrs)

def cc_toolchain_suite(**attrs):
    native.cc_toolchain_suite(**attrs)

def fdo_profile(**attrs):
    native.fdo_profile(**attrs)

def fdo_prefetch_hints(**attrs):
    native.fdo_prefetch_hints(**attrs)

def objc_library(**attrs):
    native.objc_library(**attrs)

def objc_import(**attrs):
    native.objc_import(**attrs)
