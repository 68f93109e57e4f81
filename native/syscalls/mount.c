// mount(2) as a Node-API function: Berth mounts one overlay per container, and spawning mount(8)
// from a large Node process costs more than the mount itself.
#include "addon.h"
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

char *string_arg(napi_env env, napi_value value) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return NULL;
  char *buf = malloc(len + 1);
  if (buf == NULL) return NULL;
  if (napi_get_value_string_utf8(env, value, buf, len + 1, &len) != napi_ok) {
    free(buf);
    return NULL;
  }
  return buf;
}

// mount(source, target, fstype, flags, data): throws an Error carrying `errno` on failure.
napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!exact_args(env, info, argv, 5, "mount(source, target, fstype, flags, data)")) return NULL;
  uint32_t flags = 0;
  char *source = string_arg(env, argv[0]);
  char *target = string_arg(env, argv[1]);
  char *fstype = string_arg(env, argv[2]);
  char *data = string_arg(env, argv[4]);
  int ok = source && target && fstype && data && napi_get_value_uint32(env, argv[3], &flags) == napi_ok;
  int err = 0;
  if (ok && mount(source, target, fstype, flags, data) != 0) err = errno;
  free(source);
  free(target);
  free(fstype);
  free(data);
  if (!ok) {
    napi_throw_type_error(env, NULL, "mount: arguments must be (string, string, string, number, string)");
  } else if (err != 0) {
    throw_errno(env, "mount", err);
  }
  return NULL;
}

// umount(target, flags): umount2(2). Flags as the kernel's (MNT_DETACH 2, UMOUNT_NOFOLLOW 8); with
// UMOUNT_NOFOLLOW a mount point that is a symlink is unmounted itself, not what it points to.
napi_value Umount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!exact_args(env, info, argv, 2, "umount(target, flags)")) return NULL;
  uint32_t flags = 0;
  char *target = string_arg(env, argv[0]);
  if (target == NULL || napi_get_value_uint32(env, argv[1], &flags) != napi_ok) {
    free(target);
    napi_throw_type_error(env, NULL, "umount: arguments must be (string, number)");
    return NULL;
  }
  int err = umount2(target, (int)flags) != 0 ? errno : 0;
  free(target);
  if (err != 0) throw_errno(env, "umount", err);
  return NULL;
}
