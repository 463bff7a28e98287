"""The keys of the Compose specification, as data: what a real compose file may say.

A key the model lacks is refused as "not supported" when Compose defines it at that place,
and as "unknown" (with a suggestion from xcompose's own vocabulary) when it does not.
Keys that only Swarm or development tooling read are accepted and ignored with a warning.

Taken from the compose-spec repository, `schema/compose-spec.json` at commit
a08f8d51631b7127ddac3d2c65537db429d0f1d0 (2025-10-28); `pre_start`, documented in
`05-services.md` of the same repository but not yet in that schema, is added.
"""

from __future__ import annotations

SPEC_SOURCE = "compose-spec/compose-spec schema/compose-spec.json"
SPEC_COMMIT = "a08f8d51631b7127ddac3d2c65537db429d0f1d0"
SPEC_DATE = "2025-10-28"

TOP_LEVEL = frozenset({
    "configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes",
})

SERVICE = frozenset({
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent",
    "command", "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota",
    "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on",
    "deploy", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
    "entrypoint", "env_file", "environment", "expose", "extends", "external_links", "extra_hosts", "gpus",
    "group_add", "healthcheck", "hostname", "image", "init", "ipc", "isolation", "label_file", "labels",
    "links", "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
    "models", "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
    "platform", "ports", "post_start", "pre_start", "pre_stop", "privileged", "profiles", "provider",
    "pull_policy", "pull_refresh_after", "read_only", "restart", "runtime", "scale", "secrets",
    "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
    "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volumes", "volumes_from",
    "working_dir",
})

NETWORK = frozenset({
    "attachable", "driver", "driver_opts", "enable_ipv4", "enable_ipv6", "external", "internal", "ipam",
    "labels", "name",
})

VOLUME = frozenset({"driver", "driver_opts", "external", "labels", "name"})

HEALTHCHECK = frozenset({"disable", "interval", "retries", "start_interval", "start_period", "test", "timeout"})

DEPENDS_ON = frozenset({"condition", "required", "restart"})

# A service's `volumes:` entry in the long form.
SERVICE_VOLUME = frozenset({
    "bind", "consistency", "image", "read_only", "source", "target", "tmpfs", "type", "volume",
})

# The options of each mount type in that long form.
BIND_OPTIONS = frozenset({"create_host_path", "propagation", "selinux"})
VOLUME_OPTIONS = frozenset({"nocopy", "subpath"})
TMPFS_OPTIONS = frozenset({"mode", "size"})

# A service's `ports:` entry in the long form.
PORT = frozenset({"app_protocol", "host_ip", "mode", "name", "protocol", "published", "target"})

# A service's `env_file:` entry in the long form.
ENV_FILE = frozenset({"format", "path", "required"})

EXTENDS = frozenset({"file", "service"})

HOOK = frozenset({"command", "environment", "privileged", "user", "working_dir"})

INCLUDE = frozenset({"env_file", "path", "project_directory"})

DEPLOY = frozenset({
    "endpoint_mode", "labels", "mode", "placement", "replicas", "resources", "restart_policy",
    "rollback_config", "update_config",
})

RESOURCES = frozenset({"limits", "reservations"})
RESOURCE_LIMITS = frozenset({"cpus", "memory", "pids"})
RESOURCE_RESERVATIONS = frozenset({"cpus", "devices", "generic_resources", "memory"})
PLACEMENT = frozenset({"constraints", "max_replicas_per_node", "preferences"})

# Read by Swarm or by development tooling only: accepted and ignored with a warning. Of
# `deploy`, xcompose reads the replicas, the container's resources and a `node.hostname`
# placement: they decide what runs where, as `docker compose up` reads them.
IGNORED_SERVICE_KEYS = frozenset({"deploy", "develop"})
DEPLOY_READ = frozenset({"placement", "replicas", "resources"})

# The key sets by the name of the model that validates that place of the file.
BY_MODEL: dict[str, frozenset[str]] = {
    "Topology": TOP_LEVEL,
    "Service": SERVICE,
    "NetworkDecl": NETWORK,
    "VolumeDecl": VOLUME,
    "Healthcheck": HEALTHCHECK,
    "DependsOn": DEPENDS_ON,
    "VolumeMount": SERVICE_VOLUME,
    "BindOptions": BIND_OPTIONS,
    "VolumeOptions": VOLUME_OPTIONS,
    "TmpfsOptions": TMPFS_OPTIONS,
    "EnvFileEntry": ENV_FILE,
    "Deploy": DEPLOY,
    "Resources": RESOURCES,
    "ResourceLimits": RESOURCE_LIMITS,
    "ResourceReservations": RESOURCE_RESERVATIONS,
    "Placement": PLACEMENT,
    "ServiceHook": HOOK,
}
