// posix_spawn(3) for the processes the runtime starts (conmon, which detaches, and short-lived commands such
// as runc delete): glibc's posix_spawn uses CLONE_VM|CLONE_VFORK, so the server's page tables are not copied;
// libuv's fork() of a 200+ MiB Node process blocks the event loop for 9-20 ms per child. The caller reaps
// the child with reapStatus().
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "addon.h"

static char **string_array(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **out = calloc(n + 1, sizeof *out);
  if (out == NULL) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || (out[i] = string_arg(env, v)) == NULL) {
      for (uint32_t j = 0; j < i; j++) free(out[j]);
      free(out);
      return NULL;
    }
  }
  return out;
}

static void free_array(char **a) {
  if (a == NULL) return;
  for (char **p = a; *p; p++) free(*p);
  free(a);
}

enum spawn_mode { DETACHED, PIPED };

// Both spawns: the child gets default signal dispositions and an empty signal mask; every fd of ours is
// close-on-exec (dup2 clears the flag on the targets). DETACHED: a new session, stdin and stdout on
// /dev/null, stderr and fd 3 (conmon's sync pipe) on pipes. PIPED: stdin, stdout and stderr on pipes.
// Returns the pid and our ends of the pipes (non-blocking) under the names given.
static napi_value spawn_child(napi_env env, napi_callback_info info, enum spawn_mode mode) {
  const char *usage = mode == DETACHED ? "spawnDetached(file, argv, envp, cwd)" : "spawnPiped(file, argv, envp, cwd)";
  napi_value args[4];
  if (!exact_args(env, info, args, 4, usage)) return NULL;
  char *file = string_arg(env, args[0]);
  char **argv = string_array(env, args[1]);
  char **envp = string_array(env, args[2]);
  char *cwd = string_arg(env, args[3]);
  napi_value result = NULL;
  // DETACHED: [0] stderr, [1] sync (fd 3); PIPED: [0] stdin, [1] stdout, [2] stderr
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  const int npipes = mode == DETACHED ? 2 : 3;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int have_fa = 0, have_attr = 0, err = 0;
  const char *what = "spawn";
  if (!file || !argv || !envp || !cwd) {
    napi_throw_type_error(env, NULL, "spawn: arguments must be (string, string[], string[], string)");
    goto out;
  }
  for (int i = 0; i < npipes; i++) {
    if (pipe2(p[i], O_CLOEXEC) != 0) {
      err = errno;
      what = "pipe2";
      goto out;
    }
  }
  have_fa = posix_spawn_file_actions_init(&fa) == 0;
  have_attr = posix_spawnattr_init(&attr) == 0;
  if (!have_fa || !have_attr) {
    err = ENOMEM;
    goto out;
  }
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | (mode == DETACHED ? POSIX_SPAWN_SETSID : 0);
  if (mode == DETACHED) {
    if ((err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
        (err = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) ||
        (err = posix_spawn_file_actions_adddup2(&fa, p[0][1], 2)) ||
        (err = posix_spawn_file_actions_adddup2(&fa, p[1][1], 3))) {
      goto out;
    }
  } else if ((err = posix_spawn_file_actions_adddup2(&fa, p[0][0], 0)) ||
             (err = posix_spawn_file_actions_adddup2(&fa, p[1][1], 1)) ||
             (err = posix_spawn_file_actions_adddup2(&fa, p[2][1], 2))) {
    goto out;
  }
  if ((cwd[0] != '\0' && (err = posix_spawn_file_actions_addchdir_np(&fa, cwd))) ||
      (err = posix_spawnattr_setsigmask(&attr, &none)) ||
      (err = posix_spawnattr_setsigdefault(&attr, &all)) ||
      (err = posix_spawnattr_setflags(&attr, flags))) {
    goto out;
  }
  pid_t pid;
  if ((err = posix_spawnp(&pid, file, &fa, &attr, argv, envp)) != 0) {
    what = file;
    goto out;
  }
  // ours: the read ends, and for PIPED stdin the write end; the child's ends close here
  int mine[3];
  for (int i = 0; i < npipes; i++) {
    int ours = mode == PIPED && i == 0 ? 1 : 0;
    mine[i] = p[i][ours];
    close(p[i][1 - ours]);
    p[i][0] = p[i][1] = -1;
    fcntl(mine[i], F_SETFL, O_NONBLOCK);
  }
  const char *detached_names[2] = {"stderrFd", "syncFd"};
  const char *piped_names[3] = {"stdinFd", "stdoutFd", "stderrFd"};
  napi_value v;
  napi_create_object(env, &result);
  napi_create_int32(env, pid, &v);
  napi_set_named_property(env, result, "pid", v);
  for (int i = 0; i < npipes; i++) {
    napi_create_int32(env, mine[i], &v);
    napi_set_named_property(env, result, mode == DETACHED ? detached_names[i] : piped_names[i], v);
  }
out:
  if (err != 0) throw_errno(env, what, err);
  for (int i = 0; i < 3; i++) {
    if (p[i][0] >= 0) close(p[i][0]);
    if (p[i][1] >= 0) close(p[i][1]);
  }
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_attr) posix_spawnattr_destroy(&attr);
  free(file);
  free(cwd);
  free_array(argv);
  free_array(envp);
  return result;
}

// spawnDetached(file, argv, envp, cwd) -> { pid, stderrFd, syncFd }: conmon, in a session of its own.
napi_value SpawnDetached(napi_env env, napi_callback_info info) {
  return spawn_child(env, info, DETACHED);
}

// spawnPiped(file, argv, envp, cwd) -> { pid, stdinFd, stdoutFd, stderrFd }: a short-lived command (runc
// delete, ip...) that keeps the process group and session; an empty cwd keeps ours.
napi_value SpawnPiped(napi_env env, napi_callback_info info) {
  return spawn_child(env, info, PIPED);
}

// reapStatus(pid) -> null while the child runs, else { code, signal }: the exit code (or null) and the
// number of the signal that ended it (or null). Never blocks.
napi_value ReapStatus(napi_env env, napi_callback_info info) {
  napi_value arg;
  int32_t pid = 0;
  if (!exact_args(env, info, &arg, 1, "reapStatus(pid)")) return NULL;
  if (napi_get_value_int32(env, arg, &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reapStatus(pid > 0)");
    return NULL;
  }
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    throw_errno(env, "waitpid", errno);
    return NULL;
  }
  napi_value out, code, sig;
  if (r == 0) {
    napi_get_null(env, &out);
    return out;
  }
  napi_create_object(env, &out);
  if (WIFEXITED(status)) napi_create_int32(env, WEXITSTATUS(status), &code);
  else napi_get_null(env, &code);
  if (WIFSIGNALED(status)) napi_create_int32(env, WTERMSIG(status), &sig);
  else napi_get_null(env, &sig);
  napi_set_named_property(env, out, "code", code);
  napi_set_named_property(env, out, "signal", sig);
  return out;
}
