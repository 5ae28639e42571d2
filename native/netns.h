/* What netns.c shares with the other parts of the addon (nftables.c). */
#ifndef CNMLAB_NETNS_H
#define CNMLAB_NETNS_H

#define NAPI_VERSION 8
#include <node_api.h>

typedef struct {
  int saved;  /* fd of the namespace the thread came from */
  int target; /* fd of the namespace entered */
} ns_switch;

/* a JS Error with errno, code and syscall, thrown */
void throw_errno(napi_env env, const char *syscall, const char *what, int err);
int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
/* copies a JS string into out; returns 0 (and throws) unless it fits */
int get_string(napi_env env, napi_value value, char *out, size_t size, const char *what);
/* enters the namespace at path on the calling thread; returns 0 and throws on failure */
int ns_enter(napi_env env, const char *path, ns_switch *sw);
/* back to where ns_enter came from (aborts if that fails) */
void ns_leave(ns_switch *sw);

napi_value nft_available(napi_env env, napi_callback_info info);
napi_value nft_open(napi_env env, napi_callback_info info);
napi_value nft_run(napi_env env, napi_callback_info info);
napi_value nft_close(napi_env env, napi_callback_info info);

#endif
