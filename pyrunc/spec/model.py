"""Pydantic v2 models of the OCI runtime-spec v1.3.0 documents (Linux).

`Spec` is config.json, `Process` the process object (also `exec --process`),
`State` the output of the state operation and `Features` the output of the
features operation (features.md).

The models accept exactly what the official JSON schemas accept for Linux
documents (two runc extensions aside, which real clients send:
`linux.rootfsPropagation` also takes rprivate, rshared, rslave and
runbindable, and `linux.devices[].fileMode` any uint32): strict
JSON types (no "1" for 1, no 1.0 for 1, no true for 1), the schema's required
fields, enums, integer ranges and patterns, and null
nowhere (the schema has no nullable field).  Unknown properties are ignored,
as config.md requires ("MUST ignore unknown properties"), and so are the
sections of other platforms (windows, solaris, vm, zos, freebsd).

Every field is optional-with-no-default unless the schema requires it: a
field that is absent stays unset (model_dump(exclude_unset=True) gives back
only what the document held).  Optional fields are typed `Opt[T]`: type
checkers see `T | None`, pydantic sees `T`, so an explicit JSON null is
rejected the way the schema rejects it, while the unset default is None.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from pyrunc.spec.version import OCI_VERSION  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    from typing import Optional as Opt
else:

    class Opt:
        """`Opt[T]` is `T` for pydantic (null rejected) and `T | None` for mypy."""

        def __class_getitem__(cls, item: Any) -> Any:
            return item


# --- scalar types (defs.json) -------------------------------------------------

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
UInt16 = Annotated[int, Field(ge=0, le=2**16 - 1)]
UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
UInt64 = Annotated[int, Field(ge=0, le=2**64 - 1)]
FileMode = Annotated[int, Field(ge=0, le=511)]
# linux.devices[].fileMode: the schema says 0-511, but runc takes any uint32
# (Go's os.FileMode) and drops the file type bits (`&^ S_IFMT`); podman
# --privileged sends the host nodes' whole st_mode (0o20666 for a char
# device): an extension, `validate` warns about it
DeviceFileMode = UInt32

# defs.json mapStringString: {"patternProperties": {".{1,}": {"type": "string"}}}.
# A key that the pattern does not match (the empty key, or one made only of
# newlines, since "." stops at a newline) may hold any value.
_NONEMPTY_KEY = re.compile(".{1,}")
_MAP_SCHEMA: dict[str, Any] = {"type": "object", "patternProperties": {".{1,}": {"type": "string"}}}


def _check_string_map(value: dict[str, Any]) -> dict[str, Any]:
    for key, item in value.items():
        if not isinstance(item, str) and _NONEMPTY_KEY.search(key):
            raise ValueError(f"value of {key!r} must be a string, got {type(item).__name__}")
    return value


MapStringString = Annotated[
    dict[str, Any], AfterValidator(_check_string_map), WithJsonSchema(_MAP_SCHEMA)
]

# --- enums (defs-linux.json) --------------------------------------------------

NamespaceType = Literal["mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time"]
# the schema's four, and the recursive forms runc and crun accept (containerd's
# CRI plugin sends rslave/rshared): an extension, `validate` warns about them
RootfsPropagation = Literal["private", "shared", "slave", "unbindable",
                            "rprivate", "rshared", "rslave", "runbindable"]
SeccompArch = Literal[
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
]  # fmt: skip
SeccompAction = Literal[
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
]  # fmt: skip
SeccompFlag = Literal[
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]  # fmt: skip
SeccompOperator = Literal[
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
]  # fmt: skip
MemoryPolicyMode = Literal[
    "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE",
    "MPOL_PREFERRED", "MPOL_PREFERRED_MANY", "MPOL_LOCAL",
]  # fmt: skip
MemoryPolicyFlag = Literal["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"]
SchedulerPolicy = Literal[
    "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE",
    "SCHED_DEADLINE",
]  # fmt: skip
SchedulerFlag = Literal[
    "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
    "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
    "SCHED_FLAG_UTIL_CLAMP_MAX",
]  # fmt: skip
IOPriorityClass = Literal["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"]
PersonalityDomain = Literal["LINUX", "LINUX32"]
ContainerStatus = Literal["creating", "created", "running", "stopped"]


class OCIModel(BaseModel):
    """Base: strict JSON types, unknown properties ignored, JSON names as aliases.

    Python's `re` is the pattern engine, as in the jsonschema package, so the
    model and the official schema agree on every string (`$` matches before a
    final newline in both)."""

    model_config = ConfigDict(
        strict=True,
        extra="ignore",
        populate_by_name=True,
        regex_engine="python-re",
        revalidate_instances="never",
    )


# --- common (config.md) -------------------------------------------------------


class IDMapping(OCIModel):
    container_id: UInt32 = Field(alias="containerID")
    host_id: UInt32 = Field(alias="hostID")
    size: UInt32


class Mount(OCIModel):
    destination: str
    source: Opt[str] = None
    options: Opt[list[str]] = None
    type: Opt[str] = None
    uid_mappings: Opt[list[IDMapping]] = Field(None, alias="uidMappings")
    gid_mappings: Opt[list[IDMapping]] = Field(None, alias="gidMappings")


class Hook(OCIModel):
    path: str
    args: Opt[list[str]] = None
    env: Opt[list[str]] = None
    timeout: Opt[Annotated[int, Field(ge=1)]] = None


class Hooks(OCIModel):
    prestart: Opt[list[Hook]] = None
    create_runtime: Opt[list[Hook]] = Field(None, alias="createRuntime")
    create_container: Opt[list[Hook]] = Field(None, alias="createContainer")
    start_container: Opt[list[Hook]] = Field(None, alias="startContainer")
    poststart: Opt[list[Hook]] = None
    poststop: Opt[list[Hook]] = None


class Root(OCIModel):
    path: str
    readonly: Opt[bool] = None


# --- process (config.md#process) ----------------------------------------------


class ConsoleSize(OCIModel):
    height: UInt64
    width: UInt64


class User(OCIModel):
    uid: Opt[UInt32] = None
    gid: Opt[UInt32] = None
    umask: Opt[UInt32] = None
    additional_gids: Opt[list[UInt32]] = Field(None, alias="additionalGids")
    username: Opt[str] = None


class Capabilities(OCIModel):
    bounding: Opt[list[str]] = None
    permitted: Opt[list[str]] = None
    effective: Opt[list[str]] = None
    inheritable: Opt[list[str]] = None
    ambient: Opt[list[str]] = None


class IOPriority(OCIModel):
    io_class: IOPriorityClass = Field(alias="class")
    priority: Opt[Int32] = None


class Scheduler(OCIModel):
    policy: SchedulerPolicy
    nice: Opt[Int32] = None
    priority: Opt[Int32] = None
    flags: Opt[list[SchedulerFlag]] = None
    runtime: Opt[UInt64] = None
    deadline: Opt[UInt64] = None
    period: Opt[UInt64] = None


class Rlimit(OCIModel):
    type: Annotated[str, Field(pattern=r"^RLIMIT_[A-Z]+$")]
    soft: UInt64
    hard: UInt64


_CPU_LIST = r"^[0-9, -]*$"


class ExecCPUAffinity(OCIModel):
    initial: Opt[Annotated[str, Field(pattern=_CPU_LIST)]] = None
    final: Opt[Annotated[str, Field(pattern=_CPU_LIST)]] = None


class Process(OCIModel):
    cwd: str
    args: Opt[list[str]] = None
    command_line: Opt[str] = Field(None, alias="commandLine")
    console_size: Opt[ConsoleSize] = Field(None, alias="consoleSize")
    env: Opt[list[str]] = None
    terminal: Opt[bool] = None
    user: Opt[User] = None
    capabilities: Opt[Capabilities] = None
    apparmor_profile: Opt[str] = Field(None, alias="apparmorProfile")
    oom_score_adj: Opt[int] = Field(None, alias="oomScoreAdj")
    selinux_label: Opt[str] = Field(None, alias="selinuxLabel")
    io_priority: Opt[IOPriority] = Field(None, alias="ioPriority")
    no_new_privileges: Opt[bool] = Field(None, alias="noNewPrivileges")
    scheduler: Opt[Scheduler] = None
    rlimits: Opt[list[Rlimit]] = None
    exec_cpu_affinity: Opt[ExecCPUAffinity] = Field(None, alias="execCPUAffinity")


# --- linux (config-linux.md) --------------------------------------------------


class Device(OCIModel):
    type: Annotated[str, Field(pattern=r"^[cbup]$")]
    path: str
    file_mode: Opt[DeviceFileMode] = Field(None, alias="fileMode")
    major: Opt[Int64] = None
    minor: Opt[Int64] = None
    uid: Opt[UInt32] = None
    gid: Opt[UInt32] = None


class NetDevice(OCIModel):
    name: Opt[str] = None


class Namespace(OCIModel):
    type: NamespaceType
    path: Opt[str] = None


class DeviceCgroup(OCIModel):
    allow: bool
    type: Opt[str] = None
    major: Opt[Int64] = None
    minor: Opt[Int64] = None
    access: Opt[str] = None


class Pids(OCIModel):
    limit: Int64


class BlockIODeviceWeight(OCIModel):
    major: Int64
    minor: Int64
    weight: Opt[UInt16] = None
    leaf_weight: Opt[UInt16] = Field(None, alias="leafWeight")


class BlockIODeviceThrottle(OCIModel):
    major: Int64
    minor: Int64
    rate: Opt[UInt64] = None


class BlockIO(OCIModel):
    weight: Opt[UInt16] = None
    leaf_weight: Opt[UInt16] = Field(None, alias="leafWeight")
    weight_device: Opt[list[BlockIODeviceWeight]] = Field(None, alias="weightDevice")
    throttle_read_bps_device: Opt[list[BlockIODeviceThrottle]] = Field(
        None, alias="throttleReadBpsDevice"
    )
    throttle_write_bps_device: Opt[list[BlockIODeviceThrottle]] = Field(
        None, alias="throttleWriteBpsDevice"
    )
    throttle_read_iops_device: Opt[list[BlockIODeviceThrottle]] = Field(
        None, alias="throttleReadIOPSDevice"
    )
    throttle_write_iops_device: Opt[list[BlockIODeviceThrottle]] = Field(
        None, alias="throttleWriteIOPSDevice"
    )


class CPU(OCIModel):
    cpus: Opt[str] = None
    mems: Opt[str] = None
    period: Opt[UInt64] = None
    quota: Opt[Int64] = None
    burst: Opt[UInt64] = None
    realtime_period: Opt[UInt64] = Field(None, alias="realtimePeriod")
    realtime_runtime: Opt[Int64] = Field(None, alias="realtimeRuntime")
    shares: Opt[UInt64] = None
    idle: Opt[Int64] = None


class HugepageLimit(OCIModel):
    page_size: Annotated[str, Field(pattern=r"^[1-9][0-9]*[KMG]B$")] = Field(alias="pageSize")
    limit: UInt64


class Memory(OCIModel):
    kernel: Opt[Int64] = None
    kernel_tcp: Opt[Int64] = Field(None, alias="kernelTCP")
    limit: Opt[Int64] = None
    reservation: Opt[Int64] = None
    swap: Opt[Int64] = None
    swappiness: Opt[UInt64] = None
    disable_oom_killer: Opt[bool] = Field(None, alias="disableOOMKiller")
    use_hierarchy: Opt[bool] = Field(None, alias="useHierarchy")
    check_before_update: Opt[bool] = Field(None, alias="checkBeforeUpdate")


class NetworkInterfacePriority(OCIModel):
    name: str
    priority: UInt32


class Network(OCIModel):
    class_id: Opt[UInt32] = Field(None, alias="classID")
    priorities: Opt[list[NetworkInterfacePriority]] = None


class Rdma(OCIModel):
    hca_handles: Opt[UInt32] = Field(None, alias="hcaHandles")
    hca_objects: Opt[UInt32] = Field(None, alias="hcaObjects")


class Resources(OCIModel):
    unified: Opt[MapStringString] = None
    devices: Opt[list[DeviceCgroup]] = None
    pids: Opt[Pids] = None
    block_io: Opt[BlockIO] = Field(None, alias="blockIO")
    cpu: Opt[CPU] = None
    hugepage_limits: Opt[list[HugepageLimit]] = Field(None, alias="hugepageLimits")
    memory: Opt[Memory] = None
    network: Opt[Network] = None
    rdma: Opt[dict[str, Rdma]] = None


class SyscallArg(OCIModel):
    index: UInt32
    value: UInt64
    value_two: Opt[UInt64] = Field(None, alias="valueTwo")
    op: SeccompOperator


class Syscall(OCIModel):
    names: Annotated[list[str], Field(min_length=1)]
    action: SeccompAction
    errno_ret: Opt[UInt32] = Field(None, alias="errnoRet")
    args: Opt[list[SyscallArg]] = None


class Seccomp(OCIModel):
    default_action: SeccompAction = Field(alias="defaultAction")
    default_errno_ret: Opt[UInt32] = Field(None, alias="defaultErrnoRet")
    flags: Opt[list[SeccompFlag]] = None
    listener_path: Opt[str] = Field(None, alias="listenerPath")
    listener_metadata: Opt[str] = Field(None, alias="listenerMetadata")
    architectures: Opt[list[SeccompArch]] = None
    syscalls: Opt[list[Syscall]] = None


class IntelRdt(OCIModel):
    clos_id: Opt[str] = Field(None, alias="closID")
    schemata: Opt[list[str]] = None
    l3_cache_schema: Opt[str] = Field(None, alias="l3CacheSchema")
    mem_bw_schema: Opt[Annotated[str, Field(pattern=r"^MB:[^\n]*$")]] = Field(
        None, alias="memBwSchema"
    )
    enable_monitoring: Opt[bool] = Field(None, alias="enableMonitoring")


class MemoryPolicy(OCIModel):
    mode: Opt[MemoryPolicyMode] = None
    nodes: Opt[str] = None
    flags: Opt[list[MemoryPolicyFlag]] = None


class Personality(OCIModel):
    domain: Opt[PersonalityDomain] = None
    flags: Opt[list[str]] = None


class TimeOffset(OCIModel):
    secs: Opt[Int64] = None
    nanosecs: Opt[UInt32] = None


class TimeOffsets(OCIModel):
    boottime: Opt[TimeOffset] = None
    monotonic: Opt[TimeOffset] = None


class Linux(OCIModel):
    devices: Opt[list[Device]] = None
    net_devices: Opt[dict[str, NetDevice]] = Field(None, alias="netDevices")
    uid_mappings: Opt[list[IDMapping]] = Field(None, alias="uidMappings")
    gid_mappings: Opt[list[IDMapping]] = Field(None, alias="gidMappings")
    namespaces: Opt[list[Namespace]] = None
    resources: Opt[Resources] = None
    cgroups_path: Opt[str] = Field(None, alias="cgroupsPath")
    rootfs_propagation: Opt[RootfsPropagation] = Field(None, alias="rootfsPropagation")
    seccomp: Opt[Seccomp] = None
    sysctl: Opt[MapStringString] = None
    masked_paths: Opt[list[str]] = Field(None, alias="maskedPaths")
    readonly_paths: Opt[list[str]] = Field(None, alias="readonlyPaths")
    mount_label: Opt[str] = Field(None, alias="mountLabel")
    intel_rdt: Opt[IntelRdt] = Field(None, alias="intelRdt")
    memory_policy: Opt[MemoryPolicy] = Field(None, alias="memoryPolicy")
    personality: Opt[Personality] = None
    time_offsets: Opt[TimeOffsets] = Field(None, alias="timeOffsets")


class Spec(OCIModel):
    """config.json."""

    oci_version: str = Field(alias="ociVersion")
    hooks: Opt[Hooks] = None
    annotations: Opt[MapStringString] = None
    hostname: Opt[str] = None
    domainname: Opt[str] = None
    mounts: Opt[list[Mount]] = None
    root: Opt[Root] = None
    process: Opt[Process] = None
    linux: Opt[Linux] = None


# --- state (runtime.md#state) -------------------------------------------------


class State(OCIModel):
    """The state document (state-schema.json).  runc's extra fields (rootfs,
    created, owner) are not part of the schema and are ignored here."""

    oci_version: str = Field(alias="ociVersion")
    id: str
    status: ContainerStatus
    pid: Opt[Annotated[int, Field(ge=0)]] = None
    bundle: str
    annotations: Opt[MapStringString] = None


# --- features (features.md) ---------------------------------------------------


class Enabled(OCIModel):
    enabled: Opt[bool] = None


class CgroupFeatures(OCIModel):
    v1: Opt[bool] = None
    v2: Opt[bool] = None
    systemd: Opt[bool] = None
    systemd_user: Opt[bool] = Field(None, alias="systemdUser")
    rdma: Opt[bool] = None


class SeccompFeatures(OCIModel):
    enabled: Opt[bool] = None
    actions: Opt[list[SeccompAction]] = None
    operators: Opt[list[SeccompOperator]] = None
    archs: Opt[list[SeccompArch]] = None
    known_flags: Opt[list[SeccompFlag]] = Field(None, alias="knownFlags")
    supported_flags: Opt[list[SeccompFlag]] = Field(None, alias="supportedFlags")


class MountExtensions(OCIModel):
    idmap: Opt[Enabled] = None


class MemoryPolicyFeatures(OCIModel):
    modes: Opt[list[str]] = None
    flags: Opt[list[str]] = None


class LinuxFeatures(OCIModel):
    namespaces: Opt[list[NamespaceType]] = None
    capabilities: Opt[list[Annotated[str, Field(pattern=r"^CAP_[A-Z_]+$")]]] = None
    cgroup: Opt[CgroupFeatures] = None
    seccomp: Opt[SeccompFeatures] = None
    apparmor: Opt[Enabled] = None
    selinux: Opt[Enabled] = None
    intel_rdt: Opt[Enabled] = Field(None, alias="intelRdt")
    mount_extensions: Opt[MountExtensions] = Field(None, alias="mountExtensions")
    net_devices: Opt[Enabled] = Field(None, alias="netDevices")
    memory_policy: Opt[MemoryPolicyFeatures] = Field(None, alias="memoryPolicy")


class Features(OCIModel):
    """The features document (features-schema.json)."""

    oci_version_min: str = Field(alias="ociVersionMin")
    oci_version_max: str = Field(alias="ociVersionMax")
    hooks: Opt[list[str]] = None
    mount_options: Opt[list[str]] = Field(None, alias="mountOptions")
    annotations: Opt[MapStringString] = None
    potentially_unsafe_config_annotations: Opt[list[str]] = Field(
        None, alias="potentiallyUnsafeConfigAnnotations"
    )
    linux: Opt[LinuxFeatures] = None
