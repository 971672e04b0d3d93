"""cffi (API mode) build of `pyrunc.linux._seccomp`: the slice of libseccomp
pyrunc needs to compile a runtime-spec seccomp profile into a BPF program,
plus three raw seccomp(2)/prctl(2) wrappers used to probe kernel support and
to load a program in tests.

Build: `python3 setup.py build_ext --inplace` (listed in setup.py CFFI_MODULES).
"""
from __future__ import annotations

from cffi import FFI  # type: ignore[import-untyped]

ffi = FFI()

ffi.cdef(
    """
    typedef void *scmp_filter_ctx;

    struct scmp_version {
        unsigned int major;
        unsigned int minor;
        unsigned int micro;
    };

    enum scmp_filter_attr {
        SCMP_FLTATR_ACT_DEFAULT = 1,
        SCMP_FLTATR_ACT_BADARCH = 2,
        SCMP_FLTATR_CTL_NNP = 3,
        SCMP_FLTATR_CTL_TSYNC = 4,
        SCMP_FLTATR_API_TSKIP = 5,
        SCMP_FLTATR_CTL_LOG = 6,
        SCMP_FLTATR_CTL_SSB = 7,
        SCMP_FLTATR_CTL_OPTIMIZE = 8,
        SCMP_FLTATR_API_SYSRAWRC = 9,
        ...
    };

    enum scmp_compare {
        SCMP_CMP_NE = 1,
        SCMP_CMP_LT = 2,
        SCMP_CMP_LE = 3,
        SCMP_CMP_EQ = 4,
        SCMP_CMP_GE = 5,
        SCMP_CMP_GT = 6,
        SCMP_CMP_MASKED_EQ = 7,
        ...
    };

    struct scmp_arg_cmp {
        unsigned int arg;
        enum scmp_compare op;
        uint64_t datum_a;
        uint64_t datum_b;
    };

    const struct scmp_version *seccomp_version(void);
    unsigned int seccomp_api_get(void);

    scmp_filter_ctx seccomp_init(uint32_t def_action);
    void seccomp_release(scmp_filter_ctx ctx);
    int seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr,
                         uint32_t value);

    uint32_t seccomp_arch_resolve_name(const char *arch_name);
    uint32_t seccomp_arch_native(void);
    int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token);
    int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token);

    int seccomp_syscall_resolve_name(const char *name);
    int seccomp_syscall_resolve_name_arch(uint32_t arch_token, const char *name);

    int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action,
                               int syscall, unsigned int arg_cnt,
                               const struct scmp_arg_cmp *arg_array);

    int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);

    #define __NR_SCMP_ERROR ...

    /* Raw kernel interfaces (return -errno on failure). */
    long pyrunc_seccomp_set_filter(unsigned int flags, const void *insns,
                                   unsigned short count);
    long pyrunc_seccomp_probe_flag(unsigned int flag);
    long pyrunc_seccomp_action_avail(uint32_t action);
    long pyrunc_set_no_new_privs(void);
    """
)

ffi.set_source(
    "pyrunc.linux._seccomp",
    r"""
    #include <errno.h>
    #include <stddef.h>
    #include <unistd.h>
    #include <sys/prctl.h>
    #include <sys/syscall.h>
    #include <linux/filter.h>
    #include <linux/seccomp.h>
    #include <seccomp.h>

    #ifndef SECCOMP_GET_ACTION_AVAIL
    #define SECCOMP_GET_ACTION_AVAIL 2
    #endif

    static long pyrunc_seccomp_set_filter(unsigned int flags, const void *insns,
                                          unsigned short count)
    {
        struct sock_fprog prog;
        long rc;
        prog.len = count;
        prog.filter = (struct sock_filter *)insns;
        rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
        return rc < 0 ? -errno : rc;
    }

    /* A flag the kernel knows makes seccomp() fail with EFAULT on a NULL
       program; an unknown one fails with EINVAL before the copy. */
    static long pyrunc_seccomp_probe_flag(unsigned int flag)
    {
        long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL);
        return rc < 0 ? -errno : rc;
    }

    static long pyrunc_seccomp_action_avail(uint32_t action)
    {
        long rc = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action);
        return rc < 0 ? -errno : rc;
    }

    static long pyrunc_set_no_new_privs(void)
    {
        return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
    }
    """,
    libraries=["seccomp"],
)

if __name__ == "__main__":
    ffi.compile(verbose=True)
