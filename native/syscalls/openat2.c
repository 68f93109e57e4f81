// openat2(2) as a Node-API function: paths inside a container's root (docker cp, volume subPath)
// are resolved by the kernel with RESOLVE_IN_ROOT / RESOLVE_BENEATH, so that a symlink the container
// swaps in while Berth works can never lead to a host file. Node's fs has no openat at all.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "addon.h"

// openat2(dirfd, path, flags, mode, resolve) -> fd. Never blocks on its own: callers open FIFOs and
// devices only with O_PATH (or O_NONBLOCK). Throws an Error with `errno` on failure.
napi_value OpenAt2(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!exact_args(env, info, argv, 5, "openat2(dirfd, path, flags, mode, resolve)")) return NULL;
  int32_t dirfd = 0;
  uint32_t flags = 0, mode = 0, resolve = 0;
  char *path = string_arg(env, argv[1]);
  if (path == NULL || napi_get_value_int32(env, argv[0], &dirfd) != napi_ok || napi_get_value_uint32(env, argv[2], &flags) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &mode) != napi_ok || napi_get_value_uint32(env, argv[4], &resolve) != napi_ok) {
    free(path);
    napi_throw_type_error(env, NULL, "openat2: arguments must be (number, string, number, number, number)");
    return NULL;
  }
  struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC, .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0, .resolve = resolve};
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  } while (fd < 0 && (errno == EINTR || errno == EAGAIN));
  int err = errno;
  free(path);
  if (fd < 0) {
    throw_errno(env, "openat2", err);
    return NULL;
  }
  napi_value out;
  napi_create_int32(env, (int32_t)fd, &out);
  return out;
}

// The flag values the JS side needs and Node's fs.constants lacks.
napi_value OpenAt2Constants(napi_env env) {
  napi_value obj, v;
  napi_create_object(env, &obj);
  const struct { const char *name; uint32_t value; } c[] = {
    {"O_PATH", O_PATH}, {"O_TMPFILE", O_TMPFILE},
    {"RESOLVE_NO_XDEV", RESOLVE_NO_XDEV}, {"RESOLVE_NO_MAGICLINKS", RESOLVE_NO_MAGICLINKS},
    {"RESOLVE_NO_SYMLINKS", RESOLVE_NO_SYMLINKS}, {"RESOLVE_BENEATH", RESOLVE_BENEATH}, {"RESOLVE_IN_ROOT", RESOLVE_IN_ROOT},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    napi_create_uint32(env, c[i].value, &v);
    napi_set_named_property(env, obj, c[i].name, v);
  }
  return obj;
}
