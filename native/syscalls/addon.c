// berth-syscalls: the few system calls Berth's runtime makes per container, as Node-API functions.
#include <stdio.h>
#include <string.h>
#include "addon.h"

int exact_args(napi_env env, napi_callback_info info, napi_value *argv, size_t n, const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc == n) return 1;
  napi_throw_type_error(env, NULL, usage);
  return 0;
}

void throw_errno(napi_env env, const char *what, int err) {
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_value msg, error, errnum;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &errnum);
  napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
}

NAPI_MODULE_INIT() {
  const struct { const char *name; napi_callback fn; } fns[] = {
    { "mount", Mount }, { "umount", Umount }, { "spawnDetached", SpawnDetached }, { "openat2", OpenAt2 }, { "attachBridge", AttachBridge },
    { "signalChild", SignalChild },
    { "spawnPiped", SpawnPiped }, { "reapStatus", ReapStatus },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  napi_set_named_property(env, exports, "constants", OpenAt2Constants(env));
  return exports;
}
