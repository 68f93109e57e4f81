#ifndef BERTH_ADDON_H
#define BERTH_ADDON_H
#include <node_api.h>

// A newly allocated copy of a JS string, or NULL (with nothing thrown) when it is not one.
char *string_arg(napi_env env, napi_value value);
// Fills argv with exactly n arguments; otherwise throws a TypeError with `usage` and returns 0.
int exact_args(napi_env env, napi_callback_info info, napi_value *argv, size_t n, const char *usage);
// Throws an Error whose message is "<what>: strerror(err)" and whose `errno` property is err.
void throw_errno(napi_env env, const char *what, int err);

napi_value Mount(napi_env env, napi_callback_info info);
napi_value Umount(napi_env env, napi_callback_info info);
napi_value SpawnDetached(napi_env env, napi_callback_info info);
napi_value OpenAt2(napi_env env, napi_callback_info info);
napi_value OpenAt2Constants(napi_env env);
napi_value AttachBridge(napi_env env, napi_callback_info info);
napi_value SpawnPiped(napi_env env, napi_callback_info info);
napi_value ReapStatus(napi_env env, napi_callback_info info);
napi_value SignalChild(napi_env env, napi_callback_info info);

#endif
