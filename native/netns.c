/*
 * cnmlab's native helper: network namespaces and sockets opened inside them.
 *
 * Why native: a socket belongs to the network namespace of the thread that calls socket(), and
 * Node has no way to switch a thread's namespace. Every function here that enters a namespace
 * does so on the calling (JS) thread, creates what it needs synchronously, and switches back
 * before returning, so no JavaScript and no libuv work ever runs while the thread is elsewhere
 * (withNetns is the one exception, and its callback must stay synchronous).
 *
 * The rtnetlink socket I/O is here too, blocking and synchronous: rtnetlink handles a request
 * inside the sender's sendmsg(), so the answer is already queued when send returns and recv does
 * not wait. That gives the errno as a number, extended-ACK messages, SO_RCVBUFFORCE and one
 * request in flight per socket, none of which netlink@0.3.0 offers (see backends/linux/README.md).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "netns.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

#define NETNS_RUN_DIR "/run/netns"
#define MAX_NAME 200

/* ------------------------------------------------------------------------------------------ */
/* error plumbing: every failure becomes a JS Error with errno, code and syscall               */
/* ------------------------------------------------------------------------------------------ */

static const char *errno_code(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENOBUFS: return "ENOBUFS";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EMSGSIZE: return "EMSGSIZE";
    case ESTALE: return "ESTALE";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    default: return "EUNKNOWN";
  }
}

void throw_errno(napi_env env, const char *syscall, const char *what, int err) {
  char message[512];
  snprintf(message, sizeof message, "%s(%s): %s", syscall, what ? what : "", strerror(err));
  napi_value msg, error, value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_int32(env, err, &value);
  napi_set_named_property(env, error, "errno", value);
  napi_create_string_utf8(env, errno_code(err), NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "code", value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value);
  napi_set_named_property(env, error, "syscall", value);
  napi_throw(env, error);
}

static void throw_type(napi_env env, const char *message) { napi_throw_type_error(env, NULL, message); }

/* ------------------------------------------------------------------------------------------ */
/* argument helpers                                                                            */
/* ------------------------------------------------------------------------------------------ */

int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  for (size_t i = argc; i < want; i++) napi_get_undefined(env, &argv[i]);
  return 1;
}

/* copies a JS string into out; returns 0 (and throws) unless it fits */
int get_string(napi_env env, napi_value value, char *out, size_t size, const char *what) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, out, size, &length) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a string", what);
    throw_type(env, message);
    return 0;
  }
  if (length + 1 >= size) {
    char message[128];
    snprintf(message, sizeof message, "%s is too long", what);
    throw_type(env, message);
    return 0;
  }
  return 1;
}

static int is_nullish(napi_env env, napi_value value) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  return type == napi_undefined || type == napi_null;
}

static int get_int(napi_env env, napi_value value, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a number", what);
    throw_type(env, message);
    return 0;
  }
  return 1;
}

/* a namespace name becomes a file in /run/netns: it must not walk out of it */
static int valid_ns_name(const char *name) {
  if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return 0;
  return strchr(name, '/') == NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* entering and leaving a namespace on the calling thread                                      */
/* ------------------------------------------------------------------------------------------ */


/*
 * enters the namespace at path (NULL: stay); returns 0 and throws on failure. With an expected
 * inode (nonzero), the namespace found there must be that one: ESTALE when the name now stands for
 * another (deleted and made again since the caller looked).
 */
static int ns_enter_checked(napi_env env, const char *path, uint64_t expected_inode, ns_switch *sw) {
  sw->saved = -1;
  sw->target = -1;
  if (path == NULL) return 1;
  sw->target = open(path, O_RDONLY | O_CLOEXEC);
  if (sw->target < 0) {
    throw_errno(env, "open", path, errno);
    return 0;
  }
  struct stat found;
  if (expected_inode != 0 && (fstat(sw->target, &found) != 0 || (uint64_t)found.st_ino != expected_inode)) {
    close(sw->target);
    throw_errno(env, "open", path, ESTALE);
    return 0;
  }
  sw->saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (sw->saved < 0) {
    int err = errno;
    close(sw->target);
    throw_errno(env, "open", "/proc/thread-self/ns/net", err);
    return 0;
  }
  if (setns(sw->target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(sw->target);
    close(sw->saved);
    throw_errno(env, "setns", path, err);
    return 0;
  }
  return 1;
}

int ns_enter(napi_env env, const char *path, ns_switch *sw) { return ns_enter_checked(env, path, 0, sw); }

/* a thread left in the wrong namespace would silently put later sockets there: better to die */
void ns_leave(ns_switch *sw) {
  if (sw->saved < 0) return;
  if (setns(sw->saved, CLONE_NEWNET) != 0) {
    fprintf(stderr, "cnmlab netns: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(sw->saved);
  close(sw->target);
  sw->saved = -1;
}

/* ------------------------------------------------------------------------------------------ */
/* createNetns(name) -> path ; deleteNetns(name)                                               */
/* ------------------------------------------------------------------------------------------ */

/* same steps as `ip netns add`: /run/netns must be a shared mount so bind mounts propagate */
static int prepare_run_dir(napi_env env) {
  if (mkdir(NETNS_RUN_DIR, 0755) != 0 && errno != EEXIST) {
    throw_errno(env, "mkdir", NETNS_RUN_DIR, errno);
    return 0;
  }
  if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) == 0) return 1;
  if (errno != EINVAL) {
    throw_errno(env, "mount", NETNS_RUN_DIR, errno);
    return 0;
  }
  /* not a mount point yet: make it one, then shared */
  if (mount(NETNS_RUN_DIR, NETNS_RUN_DIR, "none", MS_BIND | MS_REC, NULL) != 0) {
    throw_errno(env, "mount --bind", NETNS_RUN_DIR, errno);
    return 0;
  }
  if (mount("", NETNS_RUN_DIR, "none", MS_SHARED | MS_REC, NULL) != 0) {
    throw_errno(env, "mount --make-shared", NETNS_RUN_DIR, errno);
    return 0;
  }
  return 1;
}

#define MAX_SETTINGS 16
#define MAX_SETTING_VALUE 64

typedef struct {
  char file[MAX_NAME];
  char value[MAX_SETTING_VALUE];
} setting;

/* reads createNetns's optional list of [file, value] pairs; returns -1 (and throws) when malformed */
static int get_settings(napi_env env, napi_value list, setting *out) {
  if (is_nullish(env, list)) return 0;
  bool is_array = false;
  napi_is_array(env, list, &is_array);
  uint32_t count = 0;
  if (is_array) napi_get_array_length(env, list, &count);
  if (!is_array || count > MAX_SETTINGS) {
    throw_type(env, "settings must be an array of at most 16 [file, value] pairs");
    return -1;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value pair, file, value;
    napi_get_element(env, list, i, &pair);
    if (napi_get_element(env, pair, 0, &file) != napi_ok || napi_get_element(env, pair, 1, &value) != napi_ok) {
      throw_type(env, "a setting must be a [file, value] pair");
      return -1;
    }
    if (!get_string(env, file, out[i].file, sizeof out[i].file, "setting file") ||
        !get_string(env, value, out[i].value, sizeof out[i].value, "setting value"))
      return -1;
    if (strncmp(out[i].file, "/proc/sys/", 10) != 0) {
      throw_type(env, "a setting's file must be under /proc/sys/");
      return -1;
    }
  }
  return (int)count;
}

/* writes a sysctl of the calling thread's namespace; a missing file (no such feature) is not an error */
static int write_setting(const setting *s) {
  int fd = open(s->file, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? 0 : errno;
  size_t length = strlen(s->value);
  int err = write(fd, s->value, length) == (ssize_t)length ? 0 : (errno ? errno : EIO);
  close(fd);
  return err;
}

/*
 * createNetns(name, settings?) -> path
 * Like `ip netns add`; `settings` ([file, value] pairs under /proc/sys/) are written from inside
 * the new namespace before anything else can use it, in the same visit: no second namespace
 * switch, and no JavaScript file I/O per setting.
 */
static napi_value create_netns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char name[MAX_NAME], path[MAX_NAME + 32];
  static setting settings[MAX_SETTINGS];
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], name, sizeof name, "name")) return NULL;
  if (!valid_ns_name(name)) {
    throw_type(env, "invalid namespace name");
    return NULL;
  }
  int setting_count = get_settings(env, argv[1], settings);
  if (setting_count < 0) return NULL;
  snprintf(path, sizeof path, "%s/%s", NETNS_RUN_DIR, name);
  /*
   * `ip netns add` makes /run/netns a shared mount on every call; with a thousand namespaces
   * mounted there that recursive remount walks all of them (measured: 0.08 ms of a 0.7 ms create).
   * Once per process is enough, unless someone removed the directory meanwhile.
   */
  static int run_dir_ready = 0;
  if (!run_dir_ready && !prepare_run_dir(env)) return NULL;
  run_dir_ready = 1;

  int file = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (file < 0 && errno == ENOENT) {
    if (!prepare_run_dir(env)) return NULL;
    file = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  }
  if (file < 0) {
    throw_errno(env, "open", path, errno);
    return NULL;
  }
  close(file);

  int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (saved < 0) {
    int err = errno;
    unlink(path);
    throw_errno(env, "open", "/proc/thread-self/ns/net", err);
    return NULL;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    int err = errno;
    close(saved);
    unlink(path);
    throw_errno(env, "unshare", "CLONE_NEWNET", err);
    return NULL;
  }
  int mount_error = 0, setting_error = 0;
  const char *failed_setting = NULL;
  if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) != 0) mount_error = errno;
  for (int i = 0; !mount_error && i < setting_count && !setting_error; i++) {
    setting_error = write_setting(&settings[i]);
    if (setting_error) failed_setting = settings[i].file;
  }
  if (setns(saved, CLONE_NEWNET) != 0) {
    fprintf(stderr, "cnmlab netns: cannot return to the original network namespace: %s\n", strerror(errno));
    abort();
  }
  close(saved);
  if (mount_error) {
    unlink(path);
    throw_errno(env, "mount --bind", path, mount_error);
    return NULL;
  }
  if (setting_error) {
    umount2(path, MNT_DETACH);
    unlink(path);
    throw_errno(env, "write", failed_setting, setting_error);
    return NULL;
  }
  napi_value result;
  napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &result);
  return result;
}

static napi_value delete_netns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char name[MAX_NAME], path[MAX_NAME + 32];
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], name, sizeof name, "name")) return NULL;
  if (!valid_ns_name(name)) {
    throw_type(env, "invalid namespace name");
    return NULL;
  }
  snprintf(path, sizeof path, "%s/%s", NETNS_RUN_DIR, name);
  /* EINVAL: the file exists but the mount is already gone (a half-finished earlier delete) */
  if (umount2(path, MNT_DETACH) != 0 && errno != EINVAL) {
    throw_errno(env, "umount2", path, errno);
    return NULL;
  }
  if (unlink(path) != 0) {
    throw_errno(env, "unlink", path, errno);
    return NULL;
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* withNetns(path, fn): run a synchronous JS function with the thread inside the namespace     */
/* ------------------------------------------------------------------------------------------ */

static napi_value with_netns(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[MAX_NAME + 32];
  if (!get_args(env, info, 2, argv) || !get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_function) {
    throw_type(env, "fn must be a function");
    return NULL;
  }
  ns_switch sw;
  if (!ns_enter(env, path, &sw)) return NULL;
  napi_value global, result = NULL;
  napi_get_global(env, &global);
  napi_call_function(env, global, argv[1], 0, NULL, &result);
  /* a pending exception propagates by itself once we return */
  ns_leave(&sw);
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* rtnetlink                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* openNetlink(nsPath | null, receiveBufferBytes, timeoutMs, protocol = NETLINK_ROUTE) -> fd */
static napi_value open_netlink(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[MAX_NAME + 32];
  int32_t rcvbuf = 0, timeout_ms = 0, protocol = NETLINK_ROUTE;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (!is_nullish(env, argv[3]) && !get_int(env, argv[3], &protocol, "protocol")) return NULL;
  int has_path = !is_nullish(env, argv[0]);
  if (has_path && !get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  if (!get_int(env, argv[1], &rcvbuf, "receiveBufferBytes") || !get_int(env, argv[2], &timeout_ms, "timeoutMs"))
    return NULL;

  ns_switch sw;
  if (!ns_enter(env, has_path ? path : NULL, &sw)) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  int err = fd < 0 ? errno : 0;
  ns_leave(&sw);
  if (fd < 0) {
    throw_errno(env, "socket", "AF_NETLINK", err);
    return NULL;
  }

  int one = 1;
  /* FORCE ignores net.core.rmem_max (we are root); a big dump must never overrun the buffer */
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  /* the kernel's own words for a refusal ("Unknown device type") travel back in the ACK */
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  /* errors need not echo the whole request back */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  if (timeout_ms > 0) {
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
    err = errno;
    close(fd);
    throw_errno(env, "bind", "AF_NETLINK", err);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

typedef struct {
  uint8_t *data;
  size_t length, capacity;
} byte_buffer;

static int buffer_append(byte_buffer *b, const void *bytes, size_t n) {
  if (b->length + n > b->capacity) {
    size_t capacity = b->capacity ? b->capacity : 65536;
    while (capacity < b->length + n) capacity *= 2;
    uint8_t *grown = realloc(b->data, capacity);
    if (grown == NULL) return 0;
    b->data = grown;
    b->capacity = capacity;
  }
  memcpy(b->data + b->length, bytes, n);
  b->length += n;
  return 1;
}

/*
 * netlinkTransact(fd, request: Uint8Array, firstSeq, lastSeq) -> Buffer
 * Sends the request (one or more netlink messages numbered firstSeq..lastSeq, each asking for an
 * ACK), then collects every reply to them until the one that ends lastSeq: its NLMSG_ERROR (an
 * ACK or a refusal) or, for a dump, NLMSG_DONE. Late replies to an abandoned earlier request are
 * dropped. The caller parses the returned messages.
 */
static napi_value netlink_transact(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd = -1, first_seq = 0, last_seq = 0;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &fd, "fd") ||
      !get_int(env, argv[2], &first_seq, "firstSeq") || !get_int(env, argv[3], &last_seq, "lastSeq"))
    return NULL;
  bool is_typed = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (!is_typed) {
    throw_type(env, "request must be a Uint8Array");
    return NULL;
  }
  void *request = NULL;
  size_t request_length = 0, offset = 0;
  napi_typedarray_type ta_type;
  napi_value ab;
  napi_get_typedarray_info(env, argv[1], &ta_type, &request_length, &request, &ab, &offset);

  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do {
    sent = sendto(fd, request, request_length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) {
    throw_errno(env, "sendto", "netlink", errno);
    return NULL;
  }

  static uint8_t chunk[1 << 18];
  byte_buffer out = {0};
  int finished = 0;
  while (!finished) {
    ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno;
      free(out.data);
      throw_errno(env, "recv", "netlink", err);
      return NULL;
    }
    int remaining = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)chunk; NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
      int32_t seq = (int32_t)h->nlmsg_seq;
      if (seq < first_seq || seq > last_seq) continue;
      if (!buffer_append(&out, h, NLMSG_ALIGN(h->nlmsg_len) <= (unsigned)remaining ? NLMSG_ALIGN(h->nlmsg_len) : h->nlmsg_len)) {
        free(out.data);
        throw_errno(env, "realloc", "netlink reply", ENOMEM);
        return NULL;
      }
      if (seq == last_seq && (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)) finished = 1;
    }
  }
  napi_value result;
  void *copy;
  napi_create_buffer_copy(env, out.length, out.data ? out.data : (void *)"", &copy, &result);
  free(out.data);
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* openInetSocket(nsPath, kind, bindAddress | null, bindPort, freebind, expectedInode?,           */
/*                recverr?) -> fd                                                               */
/* kind: "udp", "icmp" (datagram sockets) or "tcp" (a stream socket, bound, for a listener)      */
/* ------------------------------------------------------------------------------------------ */

static napi_value open_inet_socket(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  char path[MAX_NAME + 32], kind[16], address[64];
  int32_t port = 0;
  bool freebind = false;
  int64_t expected_inode = 0;
  bool recverr = false;
  if (!get_args(env, info, 7, argv)) return NULL;
  int has_path = !is_nullish(env, argv[0]);
  if (has_path && !get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  if (!get_string(env, argv[1], kind, sizeof kind, "kind")) return NULL;
  int has_address = !is_nullish(env, argv[2]);
  if (has_address && !get_string(env, argv[2], address, sizeof address, "bindAddress")) return NULL;
  if (!is_nullish(env, argv[3]) && !get_int(env, argv[3], &port, "bindPort")) return NULL;
  if (!is_nullish(env, argv[4])) napi_get_value_bool(env, argv[4], &freebind);
  if (!is_nullish(env, argv[6])) napi_get_value_bool(env, argv[6], &recverr);
  if (!is_nullish(env, argv[5]) && napi_get_value_int64(env, argv[5], &expected_inode) != napi_ok) {
    throw_type(env, "expectedInode must be a number");
    return NULL;
  }

  int protocol, type = SOCK_DGRAM;
  if (strcmp(kind, "udp") == 0) protocol = IPPROTO_UDP;
  else if (strcmp(kind, "icmp") == 0) protocol = IPPROTO_ICMP;
  else if (strcmp(kind, "tcp") == 0) {
    protocol = IPPROTO_TCP;
    type = SOCK_STREAM;
  } else {
    throw_type(env, "kind must be \"udp\", \"icmp\" or \"tcp\"");
    return NULL;
  }
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (has_address && inet_pton(AF_INET, address, &local.sin_addr) != 1) {
    throw_type(env, "bindAddress must be an IPv4 address");
    return NULL;
  }

  ns_switch sw;
  if (!ns_enter_checked(env, has_path ? path : NULL, (uint64_t)expected_inode, &sw)) return NULL;
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, protocol);
  int err = fd < 0 ? errno : 0;
  ns_leave(&sw);
  if (fd < 0) {
    throw_errno(env, "socket", kind, err);
    return NULL;
  }
  int one = 1;
  /*
   * a listener closes first (it answers, then closes), so its port keeps connections in
   * TIME_WAIT; SO_REUSEADDR lets it be bound again meanwhile, and still refuses a second listener
   */
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /*
   * IP_RECVERR: every ICMP error about the socket's flow is reported, net and host unreachable
   * too; without it a UDP socket hears only port unreachable (the others are "soft" errors)
   */
  if (recverr) setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one);
  /* the embedded DNS address may be bound before lo carries it, as Docker's resolver does */
  if (freebind) setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  /*
   * Always bound here, port 0 included, before libuv adopts the socket: uv_udp_open sets
   * SO_REUSEADDR, and two unbound sockets that both have it can be given the same ephemeral port
   * (a ping socket the same echo id) when they first send; every reply then goes to one of them,
   * and the other waits for nothing. Measured: two DNS queries sent in the same tick from one
   * namespace both left from port 53677, and one timed out. A socket bound without the flag gets
   * a port nobody else holds.
   */
  if (bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
    err = errno;
    close(fd);
    throw_errno(env, "bind", has_address ? address : "0.0.0.0", err);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/*
 * connectTcp(nsPath, address, port, expectedInode?) -> fd: a TCP socket made inside the namespace
 * whose non-blocking connect has started (or, to a local address, already finished). Only what
 * connect() refuses at once is thrown (ENETUNREACH: no route); everything the network answers
 * later (a reset, an ICMP error) the socket reports on its first read.
 */
static napi_value connect_tcp(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  char path[MAX_NAME + 32], address[64];
  int32_t port = 0;
  int64_t expected_inode = 0;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (!get_string(env, argv[0], path, sizeof path, "path")) return NULL;
  if (!get_string(env, argv[1], address, sizeof address, "address")) return NULL;
  if (!get_int(env, argv[2], &port, "port")) return NULL;
  if (!is_nullish(env, argv[3]) && napi_get_value_int64(env, argv[3], &expected_inode) != napi_ok) {
    throw_type(env, "expectedInode must be a number");
    return NULL;
  }
  struct sockaddr_in remote = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, address, &remote.sin_addr) != 1) {
    throw_type(env, "address must be an IPv4 address");
    return NULL;
  }
  ns_switch sw;
  if (!ns_enter_checked(env, path, (uint64_t)expected_inode, &sw)) return NULL;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
  int err = fd < 0 ? errno : 0;
  ns_leave(&sw);
  if (fd < 0) {
    throw_errno(env, "socket", "tcp", err);
    return NULL;
  }
  if (connect(fd, (struct sockaddr *)&remote, sizeof remote) != 0 && errno != EINPROGRESS) {
    err = errno;
    close(fd);
    throw_errno(env, "connect", address, err);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/*
 * setRealtime(priority, thread?): the thread (its id; the calling thread when left out) runs
 * under SCHED_RR at `priority` (1..99), and anything it forks does not inherit that. For the
 * measurement helper, whose answers must not wait behind every ordinary task of a busy machine,
 * nor behind one of its own threads that such a task keeps off the CPU (backends/linux/README.md).
 */
static napi_value set_realtime(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t priority = 0;
  int32_t thread = 0;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &priority, "priority")) return NULL;
  napi_valuetype type;
  if (napi_typeof(env, argv[1], &type) != napi_ok) return NULL;
  if (type != napi_undefined && !get_int(env, argv[1], &thread, "thread")) return NULL;
  struct sched_param param = {.sched_priority = priority};
  if (sched_setscheduler(thread, SCHED_RR | SCHED_RESET_ON_FORK, &param) != 0) throw_errno(env, "sched_setscheduler", "SCHED_RR", errno);
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd, "fd")) return NULL;
  if (close(fd) != 0) throw_errno(env, "close", "fd", errno);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"createNetns", NULL, create_netns, NULL, NULL, NULL, napi_default, NULL},
      {"deleteNetns", NULL, delete_netns, NULL, NULL, NULL, napi_default, NULL},
      {"withNetns", NULL, with_netns, NULL, NULL, NULL, napi_default, NULL},
      {"openNetlink", NULL, open_netlink, NULL, NULL, NULL, napi_default, NULL},
      {"netlinkTransact", NULL, netlink_transact, NULL, NULL, NULL, napi_default, NULL},
      {"openInetSocket", NULL, open_inet_socket, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"connectTcp", NULL, connect_tcp, NULL, NULL, NULL, napi_default, NULL},
      {"setRealtime", NULL, set_realtime, NULL, NULL, NULL, napi_default, NULL},
      {"nftAvailable", NULL, nft_available, NULL, NULL, NULL, napi_default, NULL},
      {"nftOpen", NULL, nft_open, NULL, NULL, NULL, napi_default, NULL},
      {"nftRun", NULL, nft_run, NULL, NULL, NULL, napi_default, NULL},
      {"nftClose", NULL, nft_close, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  return exports;
}

NAPI_MODULE(cnmlab_netns, init)
