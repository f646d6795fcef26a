"""Local repositories libnodevoy.so needs. Nothing here downloads anything.

In nodevoy's own WORKSPACE: nodevoy_dependencies(nodevoy_path = ".").
In another workspace (see README.md here):

    local_repository(name = "nodevoy", path = "/path/to/nodevoy")
    load("@nodevoy//bazel:repositories.bzl", "nodevoy_dependencies")
    nodevoy_dependencies(nodevoy_path = "/path/to/nodevoy")
"""

# Where scripts/setup.sh extracts Debian's libnode 18 (its default NODEVOY_LIBNODE_PREFIX). The RUNPATH in
# third_party/libnode.BUILD names the same directory.
LIBNODE_PREFIX = "/opt/nodevoy/libnode18"

def nodevoy_dependencies(nodevoy_path):
    """Declares @nodevoy_libnode and @nodevoy_node_addon_api.

    Args:
      nodevoy_path: the nodevoy checkout (absolute, or relative to the calling workspace's root); its
        node_modules/ must hold node-addon-api (npm ci).
    """
    if not native.existing_rule("nodevoy_libnode"):
        native.new_local_repository(
            name = "nodevoy_libnode",
            path = LIBNODE_PREFIX,
            build_file = str(Label("//bazel/third_party:libnode.BUILD")),
        )
    if not native.existing_rule("nodevoy_node_addon_api"):
        native.new_local_repository(
            name = "nodevoy_node_addon_api",
            path = nodevoy_path + "/node_modules/node-addon-api",
            build_file = str(Label("//bazel/third_party:node_addon_api.BUILD")),
        )
