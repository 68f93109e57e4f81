// posix_spawn(3) for processes that detach (conmon): glibc's posix_spawn uses CLONE_VM|CLONE_VFORK,
// so the server's page tables are not copied; libuv's fork() of a 200+ MiB Node process blocks the
// event loop for 15-20 ms per container. The caller reaps the child with reap().
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

// spawnDetached(file, argv, envp, cwd) -> { pid, stderrFd, syncFd }: the child runs in a new session with
// stdin/stdout on /dev/null, stderr on a pipe and fd 3 on a second pipe (conmon's sync pipe), default
// signal dispositions and an empty signal mask. The returned fds are the read ends, non-blocking.
napi_value SpawnDetached(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!exact_args(env, info, args, 4, "spawnDetached(file, argv, envp, cwd)")) return NULL;
  char *file = string_arg(env, args[0]);
  char **argv = string_array(env, args[1]);
  char **envp = string_array(env, args[2]);
  char *cwd = string_arg(env, args[3]);
  napi_value result = NULL;
  int errp[2] = {-1, -1}, syncp[2] = {-1, -1};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int have_fa = 0, have_attr = 0, err = 0;
  const char *what = "spawn";
  if (!file || !argv || !envp || !cwd) {
    napi_throw_type_error(env, NULL, "spawnDetached: arguments must be (string, string[], string[], string)");
    goto out;
  }
  if (pipe2(errp, O_CLOEXEC) != 0 || pipe2(syncp, O_CLOEXEC) != 0) {
    err = errno;
    what = "pipe2";
    goto out;
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
  // dup2 clears FD_CLOEXEC on the target; every other fd of ours is close-on-exec
  if ((err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)) ||
      (err = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0)) ||
      (err = posix_spawn_file_actions_adddup2(&fa, errp[1], 2)) ||
      (err = posix_spawn_file_actions_adddup2(&fa, syncp[1], 3)) ||
      (err = posix_spawn_file_actions_addchdir_np(&fa, cwd)) ||
      (err = posix_spawnattr_setsigmask(&attr, &none)) ||
      (err = posix_spawnattr_setsigdefault(&attr, &all)) ||
      (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))) {
    goto out;
  }
  pid_t pid;
  if ((err = posix_spawnp(&pid, file, &fa, &attr, argv, envp)) != 0) {
    what = file;
    goto out;
  }
  close(errp[1]);
  close(syncp[1]);
  errp[1] = syncp[1] = -1;
  fcntl(errp[0], F_SETFL, O_NONBLOCK);
  fcntl(syncp[0], F_SETFL, O_NONBLOCK);
  napi_value v;
  napi_create_object(env, &result);
  napi_create_int32(env, pid, &v);
  napi_set_named_property(env, result, "pid", v);
  napi_create_int32(env, errp[0], &v);
  napi_set_named_property(env, result, "stderrFd", v);
  napi_create_int32(env, syncp[0], &v);
  napi_set_named_property(env, result, "syncFd", v);
  errp[0] = syncp[0] = -1;
out:
  if (err != 0) throw_errno(env, what, err);
  for (int i = 0; i < 2; i++) {
    if (errp[i] >= 0) close(errp[i]);
    if (syncp[i] >= 0) close(syncp[i]);
  }
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_attr) posix_spawnattr_destroy(&attr);
  free(file);
  free(cwd);
  free_array(argv);
  free_array(envp);
  return result;
}

// reap(pid) -> exit status (>= 0), 128+signal, or -1 while the child still runs. Never blocks.
napi_value Reap(napi_env env, napi_callback_info info) {
  napi_value arg;
  int32_t pid = 0;
  if (!exact_args(env, info, &arg, 1, "reap(pid)")) return NULL;
  if (napi_get_value_int32(env, arg, &pid) != napi_ok) {
    napi_throw_type_error(env, NULL, "reap(pid)");
    return NULL;
  }
  int status = 0;
  pid_t r = waitpid(pid, &status, WNOHANG);
  int32_t code = -1;
  if (r < 0) {
    throw_errno(env, "waitpid", errno);
    return NULL;
  }
  if (r == pid) code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  napi_value out;
  napi_create_int32(env, code, &out);
  return out;
}

// spawnPiped(file, argv, envp, cwd) -> { pid, stdinFd, stdoutFd, stderrFd }: a short-lived child (runc
// delete, ip...) with its stdio on three pipes, started by posix_spawn for the reason given at the top.
// The returned fds are ours (the write end of stdin, the read ends of stdout and stderr), non-blocking.
// The child keeps the process group and session; reap it with reapStatus().
napi_value SpawnPiped(napi_env env, napi_callback_info info) {
  napi_value args[4];
  if (!exact_args(env, info, args, 4, "spawnPiped(file, argv, envp, cwd)")) return NULL;
  char *file = string_arg(env, args[0]);
  char **argv = string_array(env, args[1]);
  char **envp = string_array(env, args[2]);
  char *cwd = string_arg(env, args[3]);
  napi_value result = NULL;
  int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int have_fa = 0, have_attr = 0, err = 0;
  const char *what = "spawn";
  if (!file || !argv || !envp || !cwd) {
    napi_throw_type_error(env, NULL, "spawnPiped: arguments must be (string, string[], string[], string)");
    goto out;
  }
  for (int i = 0; i < 3; i++) {
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
  if ((err = posix_spawn_file_actions_adddup2(&fa, p[0][0], 0)) ||
      (err = posix_spawn_file_actions_adddup2(&fa, p[1][1], 1)) ||
      (err = posix_spawn_file_actions_adddup2(&fa, p[2][1], 2)) ||
      (cwd[0] != '\0' && (err = posix_spawn_file_actions_addchdir_np(&fa, cwd))) ||
      (err = posix_spawnattr_setsigmask(&attr, &none)) ||
      (err = posix_spawnattr_setsigdefault(&attr, &all)) ||
      (err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))) {
    goto out;
  }
  pid_t pid;
  if ((err = posix_spawnp(&pid, file, &fa, &attr, argv, envp)) != 0) {
    what = file;
    goto out;
  }
  int mine[3] = {p[0][1], p[1][0], p[2][0]};
  close(p[0][0]);
  close(p[1][1]);
  close(p[2][1]);
  for (int i = 0; i < 3; i++) {
    fcntl(mine[i], F_SETFL, O_NONBLOCK);
    p[i][0] = p[i][1] = -1;
  }
  napi_value v;
  napi_create_object(env, &result);
  napi_create_int32(env, pid, &v);
  napi_set_named_property(env, result, "pid", v);
  const char *names[3] = {"stdinFd", "stdoutFd", "stderrFd"};
  for (int i = 0; i < 3; i++) {
    napi_create_int32(env, mine[i], &v);
    napi_set_named_property(env, result, names[i], v);
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
