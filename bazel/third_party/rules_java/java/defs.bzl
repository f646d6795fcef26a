"""A minimal, local stand-in for @rules_java//java:defs.bzl: forwards to the native Java rules.

Toolchain resolution loads @bazel_tools//tools/jdk (registered toolchains), whose BUILD file loads
@rules_java//java:defs.bzl, which Bazel's default WORKSPACE suffix would download. Nodevoy builds no Java;
its WORKSPACE points @rules_java here so that loading works offline. A workspace that pulls nodevoy in
keeps its own @rules_java.
"""

def java_binary(**attrs):
    native.java_binary(**attrs)

def java_import(**attrs):
    native.java_import(**attrs)

def java_library(**attrs):
    native.java_library(**attrs)

def java_lite_proto_library(**attrs):
    native.java_lite_proto_library(**attrs)

def java_proto_library(**attrs):
    native.java_proto_library(**attrs)

def java_test(**attrs):
    native.java_test(**attrs)

def java_package_configuration(**attrs):
    native.java_package_configuration(**attrs)

def java_plugin(**attrs):
    native.java_plugin(**attrs)

def java_runtime(**attrs):
    native.java_runtime(**attrs)

def java_toolchain(**attrs):
    native.java_toolchain(**attrs)
