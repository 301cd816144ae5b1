#ifndef COLONY_CPROCESS_SHIM_H
#define COLONY_CPROCESS_SHIM_H

#include <fcntl.h>
#include <signal.h>

// pipe2 and prctl are GNU extensions that Glibc's Swift module does not show; kernel hosts need both (a pipe
// whose ends no other child inherits, and a host that dies with its worker). Declared here, as glibc does.
#if defined(__linux__)
int pipe2(int pipefd[2], int flags);
int prctl(int option, ...);

static inline int colony_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

// PR_SET_PDEATHSIG (1, <linux/prctl.h>): the kernel sends SIGKILL to this process when its parent thread exits.
static inline int colony_die_with_parent(void) {
    return prctl(1, SIGKILL, 0, 0, 0);
}
#endif

#endif
