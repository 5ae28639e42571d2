/*
 * nftables through libnftables, the library the nft command is a thin front end to: one context
 * per namespace, made inside it (its netlink socket belongs to that namespace for good), fed the
 * same JSON nft -j reads. A change costs the library's parsing and one netlink batch, not a process
 * (backends/linux/README.md, "Firewall": nft -i was measured too, and is slower than a process).
 *
 * The library is opened with dlopen when first needed, so the addon builds and loads without the
 * nftables development headers, and a machine without nftables still gets every other function.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netns.h"

/* libnftables.h, the part used here (stable since nftables 0.9.0) */
#define NFT_CTX_DEFAULT 0
#define NFT_CTX_OUTPUT_JSON (1u << 4)

typedef struct {
  void *(*ctx_new)(uint32_t flags);
  void (*ctx_free)(void *ctx);
  void (*output_set_flags)(void *ctx, unsigned int flags);
  int (*buffer_output)(void *ctx);
  int (*buffer_error)(void *ctx);
  const char *(*get_output_buffer)(void *ctx);
  const char *(*get_error_buffer)(void *ctx);
  int (*run_cmd_from_buffer)(void *ctx, const char *buf);
} nft_api;

static nft_api api;
static int api_loaded = 0;
static char api_failure[512];

#define LIBRARY "libnftables.so.1"

/* returns 1 when the library is there; otherwise throws ENOENT saying what is missing */
static int load_api(napi_env env) {
  if (api_loaded) return 1;
  if (api_failure[0] == '\0') {
    void *library = dlopen(LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
      snprintf(api_failure, sizeof api_failure, "%s cannot be loaded (apt-get install nftables): %s", LIBRARY, dlerror());
    } else {
      struct {
        const char *name;
        void **slot;
      } symbols[] = {
          {"nft_ctx_new", (void **)&api.ctx_new},
          {"nft_ctx_free", (void **)&api.ctx_free},
          {"nft_ctx_output_set_flags", (void **)&api.output_set_flags},
          {"nft_ctx_buffer_output", (void **)&api.buffer_output},
          {"nft_ctx_buffer_error", (void **)&api.buffer_error},
          {"nft_ctx_get_output_buffer", (void **)&api.get_output_buffer},
          {"nft_ctx_get_error_buffer", (void **)&api.get_error_buffer},
          {"nft_run_cmd_from_buffer", (void **)&api.run_cmd_from_buffer},
      };
      for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].slot = dlsym(library, symbols[i].name);
        if (*symbols[i].slot == NULL) {
          snprintf(api_failure, sizeof api_failure, "%s has no %s", LIBRARY, symbols[i].name);
          break;
        }
      }
      if (api_failure[0] == '\0') api_loaded = 1;
    }
  }
  if (api_loaded) return 1;
  napi_value msg, error, code;
  napi_create_string_utf8(env, api_failure, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, "ENOENT", NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, error, "code", code);
  napi_throw(env, error);
  return 0;
}

/* nftAvailable() -> null, or why libnftables cannot be used */
napi_value nft_available(napi_env env, napi_callback_info info) {
  napi_value result;
  if (load_api(env)) {
    napi_get_null(env, &result);
    return result;
  }
  napi_value ignored;
  napi_get_and_clear_last_exception(env, &ignored);
  napi_create_string_utf8(env, api_failure, NAPI_AUTO_LENGTH, &result);
  return result;
}

typedef struct {
  void *ctx; /* NULL once closed */
} nft_handle;

static void free_handle(napi_env env, void *data, void *hint) {
  nft_handle *handle = data;
  if (handle->ctx != NULL) api.ctx_free(handle->ctx);
  free(handle);
}

static nft_handle *get_handle(napi_env env, napi_value value) {
  nft_handle *handle = NULL;
  if (napi_get_value_external(env, value, (void **)&handle) != napi_ok || handle == NULL) {
    napi_throw_type_error(env, NULL, "not an nftables context");
    return NULL;
  }
  if (handle->ctx == NULL) {
    throw_errno(env, "nft", "context", EBADF);
    return NULL;
  }
  return handle;
}

/* nftOpen(nsPath) -> context: made inside the namespace, JSON out, output and errors buffered */
napi_value nft_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[512];
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  if (!load_api(env)) return NULL;
  ns_switch sw;
  if (!ns_enter(env, path, &sw)) return NULL;
  void *ctx = api.ctx_new(NFT_CTX_DEFAULT);
  ns_leave(&sw);
  if (ctx == NULL) {
    throw_errno(env, "nft_ctx_new", path, ENOMEM);
    return NULL;
  }
  api.output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
  api.buffer_output(ctx);
  api.buffer_error(ctx);
  nft_handle *handle = malloc(sizeof *handle);
  if (handle == NULL) {
    api.ctx_free(ctx);
    throw_errno(env, "malloc", "nft", ENOMEM);
    return NULL;
  }
  handle->ctx = ctx;
  napi_value result;
  napi_create_external(env, handle, free_handle, NULL, &result);
  return result;
}

/*
 * nftRun(context, nsPath, commands) -> { ok, output, error }: one run of nft's input (JSON or
 * nft's own syntax), one transaction, as `nft -j -f` would; error is what nft prints on stderr.
 * The thread is inside the namespace meanwhile, so that nothing the library might open ends up
 * in ours.
 */
napi_value nft_run(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[512];
  if (!get_args(env, info, 3, argv)) return NULL;
  nft_handle *handle = get_handle(env, argv[0]);
  if (handle == NULL || !get_string(env, argv[1], path, sizeof path, "path")) return NULL;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, argv[2], NULL, 0, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "commands must be a string");
    return NULL;
  }
  char *commands = malloc(length + 1);
  if (commands == NULL) {
    throw_errno(env, "malloc", "nft", ENOMEM);
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[2], commands, length + 1, &length);
  ns_switch sw;
  if (!ns_enter(env, path, &sw)) {
    free(commands);
    return NULL;
  }
  /* libnftables waits for the kernel's answers in select(), which a signal interrupts whatever
     SA_RESTART says; it then gives up with EINTR ("Interrupted system call") although the batch
     may be half answered. Seen with node --cpu-prof (SIGPROF): signals wait until the run is over. */
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  int rc = api.run_cmd_from_buffer(handle->ctx, commands);
  pthread_sigmask(SIG_SETMASK, &before, NULL);
  ns_leave(&sw);
  free(commands);
  /* reading a buffer also empties it for the next run */
  const char *output = api.get_output_buffer(handle->ctx);
  const char *error = api.get_error_buffer(handle->ctx);
  napi_value result, value;
  napi_create_object(env, &result);
  napi_get_boolean(env, rc == 0, &value);
  napi_set_named_property(env, result, "ok", value);
  napi_create_string_utf8(env, output ? output : "", NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, result, "output", value);
  napi_create_string_utf8(env, error ? error : "", NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, result, "error", value);
  return result;
}

/* nftClose(context): frees it and closes its netlink socket, which would keep a deleted namespace alive */
napi_value nft_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  nft_handle *handle = NULL;
  if (napi_get_value_external(env, argv[0], (void **)&handle) != napi_ok || handle == NULL) {
    napi_throw_type_error(env, NULL, "not an nftables context");
    return NULL;
  }
  if (handle->ctx != NULL) api.ctx_free(handle->ctx);
  handle->ctx = NULL;
  return NULL;
}
