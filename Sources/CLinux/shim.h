#ifndef INSIGHT_CLINUX_SHIM_H
#define INSIGHT_CLINUX_SHIM_H
#include <sys/vfs.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The file-system type (f_type of statfs) of path, or -1 with errno set. */
static inline long long insight_fs_type(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -1;
    return (long long)(unsigned int)info.f_type;
}


/* The layout of struct ucred (glibc only declares it with _GNU_SOURCE), filled by SO_PEERCRED. */
struct insight_ucred {
    int pid;
    unsigned int uid;
    unsigned int gid;
};
static const int insight_so_peercred = SO_PEERCRED;

/* The peer's supplementary groups at connect time (SO_PEERGROUPS, Linux 4.13), up to 256 of them. */
#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif
struct insight_peergroups {
    unsigned int gids[256];
};
static const int insight_so_peergroups = SO_PEERGROUPS;

/* Names the calling thread (prctl PR_SET_NAME keeps the first 15 bytes); 0, or -1 with errno set. */
static inline int insight_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

/* Sets the calling thread's nice value (Linux schedules threads apart, so this leaves the rest of the process
   as it is); 0, or -1 with errno set. */
static inline int insight_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

/* SOCK_STREAM | SOCK_CLOEXEC as one int (Glibc's enum is not visible to every module that imports curl). */
static const int insight_sock_stream_cloexec = SOCK_STREAM | SOCK_CLOEXEC;
/* SOCK_STREAM alone, for the type sd_is_socket_unix compares with (SO_TYPE carries no flags). */
static const int insight_sock_stream = SOCK_STREAM;
#endif
