// sockdiag: dumps the kernel's TCP and UDP socket tables (IPv4 and IPv6) over NETLINK_SOCK_DIAG, the
// interface `ss` uses, and returns them as ONE ArrayBuffer of fixed-size records that
// collectors/sockdiag.ts decodes. No JS strings are made here except for error messages.
//
// Record layout (RECORD_SIZE bytes, native byte order, 4-byte aligned so JS can use typed-array views):
//   0 u8 family (AF_INET 2 / AF_INET6 10)   1 u8 protocol (6 TCP / 17 UDP)   2 u8 state (kernel number)
//   3 u8 zero   4 u16 local port   6 u16 remote port (host order)
//   8 u8[16] local address   24 u8[16] remote address (network order; IPv4 in the first 4 bytes)
//   40 u32 uid   44 u32 inode   48 u32 timer ms (idiag_expires: time left on the socket's timer, e.g. TIME_WAIT)
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RECORD_SIZE 52
#define LAYOUT_VERSION 2
#define ERROR_CODE "SOCKHUNT_E_COLLECT"

// Every state except TCP_BOUND_INACTIVE (13, Linux 6.6+): bound-but-idle TCP sockets are not in
// /proc/net/tcp, and this dump must show the same sockets.
#define STATES_MASK (0xffffffffu & ~(1u << 13))

typedef struct {
  uint8_t family, protocol, state, pad;
  uint16_t sport, dport;
  uint8_t src[16], dst[16];
  uint32_t uid, inode, expires;
} record_t;

_Static_assert(sizeof(record_t) == RECORD_SIZE, "record layout");

typedef struct {
  record_t *items;
  size_t len, cap;
} records_t;

typedef struct {
  char msg[PATH_MAX + 160];
  const char *syscall;
  int err;
} failure_t;

// `fmt` has at most one %s, filled by `arg`.
static int fail(failure_t *f, const char *syscall, int err, const char *fmt, const char *arg) {
  f->syscall = syscall;
  f->err = err;
  int n = snprintf(f->msg, sizeof f->msg, fmt, arg);
  if (err && n >= 0 && (size_t)n < sizeof f->msg)
    snprintf(f->msg + n, sizeof f->msg - (size_t)n, ": %s", strerror(err));
  return -1;
}

static int push(records_t *r, record_t **out) {
  if (r->len == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 1024;
    record_t *items = realloc(r->items, cap * sizeof *items);
    if (!items) return -1;
    r->items = items;
    r->cap = cap;
  }
  *out = &r->items[r->len++];
  return 0;
}

static const char *proto_name(uint8_t family, uint8_t protocol) {
  if (family == AF_INET) return protocol == IPPROTO_TCP ? "TCP/IPv4" : "UDP/IPv4";
  return protocol == IPPROTO_TCP ? "TCP/IPv6" : "UDP/IPv6";
}

// Sends one dump request and appends every reply to `out`. `buf` is grown when a datagram is larger.
static int dump_one(int fd, uint8_t family, uint8_t protocol, uint32_t seq, char **buf, size_t *bufsize,
                    records_t *out, failure_t *f) {
  struct {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
  } request;
  memset(&request, 0, sizeof request);
  request.nlh.nlmsg_len = sizeof request;
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.nlh.nlmsg_seq = seq;
  request.req.sdiag_family = family;
  request.req.sdiag_protocol = protocol;
  request.req.idiag_states = STATES_MASK;

  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  struct iovec siov = {.iov_base = &request, .iov_len = sizeof request};
  struct msghdr smsg = {.msg_name = &kernel, .msg_namelen = sizeof kernel, .msg_iov = &siov, .msg_iovlen = 1};
  ssize_t sent;
  do sent = sendmsg(fd, &smsg, 0);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return fail(f, "sendmsg", errno, "sock_diag %s request failed", proto_name(family, protocol));

  for (;;) {
    // Peek at the datagram's full size first (MSG_TRUNC reports it) so a reply never gets cut off.
    ssize_t want;
    do want = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
    while (want < 0 && errno == EINTR);
    if (want < 0) return fail(f, "recvmsg", errno, "sock_diag %s read failed", proto_name(family, protocol));
    if ((size_t)want > *bufsize) {
      char *bigger = realloc(*buf, (size_t)want);
      if (!bigger) return fail(f, "recvmsg", ENOMEM, "sock_diag %s read failed", proto_name(family, protocol));
      *buf = bigger;
      *bufsize = (size_t)want;
    }
    ssize_t n;
    do n = recv(fd, *buf, *bufsize, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return fail(f, "recvmsg", errno, "sock_diag %s read failed", proto_name(family, protocol));

    int len = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)*buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != seq) continue;  // a stale reply to an earlier, aborted request
      if (h->nlmsg_type == NLMSG_DONE) return 0;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        int err = h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) ? -e->error : EPROTO;
        if (err == 0) continue;  // an ACK, not an error
        return fail(f, "sock_diag", err,
                    err == ENOENT ? "sock_diag %s dump refused (is the tcp_diag/udp_diag kernel module available?)"
                                  : "sock_diag %s dump failed",
                    proto_name(family, protocol));
      }
      if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
        continue;
      const struct inet_diag_msg *m = NLMSG_DATA(h);
      record_t *r;
      if (push(out, &r) < 0) return fail(f, "malloc", ENOMEM, "sock_diag %s: out of memory", proto_name(family, protocol));
      r->family = m->idiag_family;
      r->protocol = protocol;
      r->state = m->idiag_state;
      r->pad = 0;
      r->sport = ntohs(m->id.idiag_sport);
      r->dport = ntohs(m->id.idiag_dport);
      size_t alen = m->idiag_family == AF_INET6 ? 16 : 4;
      memset(r->src, 0, sizeof r->src);
      memset(r->dst, 0, sizeof r->dst);
      memcpy(r->src, m->id.idiag_src, alen);
      memcpy(r->dst, m->id.idiag_dst, alen);
      r->uid = m->idiag_uid;
      r->inode = m->idiag_inode;
      r->expires = m->idiag_expires;
    }
  }
}

typedef struct {
  int nsfd, sock, err;
  const char *syscall;
} ns_socket_t;

// Runs on a short-lived thread: setns(CLONE_NEWNET) switches only the calling thread, and the socket
// it creates stays bound to that namespace after the thread is gone.
static void *open_in_netns(void *arg) {
  ns_socket_t *job = arg;
  if (setns(job->nsfd, CLONE_NEWNET) != 0) {
    job->err = errno;
    job->syscall = "setns";
    return NULL;
  }
  job->sock = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (job->sock < 0) {
    job->err = errno;
    job->syscall = "socket";
  }
  return NULL;
}

static int open_diag_socket(const char *netns_path, failure_t *f) {
  if (!netns_path) {
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return fail(f, "socket", errno, "cannot open a NETLINK_SOCK_DIAG socket", NULL);
    return fd;
  }
  int nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return fail(f, "open", errno, "cannot open network namespace %s", netns_path);
  ns_socket_t job = {.nsfd = nsfd, .sock = -1, .err = 0, .syscall = NULL};
  pthread_t thread;
  int err = pthread_create(&thread, NULL, open_in_netns, &job);
  if (err == 0) pthread_join(thread, NULL);
  close(nsfd);
  if (err) return fail(f, "pthread_create", err, "cannot enter network namespace %s", netns_path);
  if (job.err == EINVAL && strcmp(job.syscall, "setns") == 0)
    return fail(f, "setns", EINVAL, "%s is not a network namespace", netns_path);
  if (job.err == EPERM && strcmp(job.syscall, "setns") == 0)
    return fail(f, "setns", EPERM, "cannot enter network namespace %s (needs CAP_SYS_ADMIN over it)", netns_path);
  if (job.err)
    return fail(f, job.syscall, job.err, "cannot open a NETLINK_SOCK_DIAG socket in network namespace %s", netns_path);
  return job.sock;
}

static int dump_all(const char *netns_path, records_t *out, failure_t *f) {
  int fd = open_diag_socket(netns_path, f);
  if (fd < 0) return -1;
  // The kernel caps each dump datagram near 32 KiB; 64 KiB avoids regrowth, the peek covers the rest.
  size_t bufsize = 65536;
  char *buf = malloc(bufsize);
  int rc = buf ? 0 : fail(f, "malloc", ENOMEM, "sock_diag: out of memory", NULL);
  static const uint8_t families[] = {AF_INET, AF_INET6};
  static const uint8_t protocols[] = {IPPROTO_TCP, IPPROTO_UDP};
  uint32_t seq = 1;
  // One dump at a time: the kernel refuses a second dump on a socket while one is running (EBUSY).
  for (int i = 0; rc == 0 && i < 2; i++)
    for (int j = 0; rc == 0 && j < 2; j++)
      rc = dump_one(fd, families[i], protocols[j], seq++, &buf, &bufsize, out, f);
  free(buf);
  close(fd);
  return rc;
}

static napi_value throw_failure(napi_env env, const failure_t *f) {
  napi_value code, msg, error, syscall, errnum;
  if (napi_create_string_utf8(env, ERROR_CODE, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, f->msg, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, code, msg, &error) != napi_ok) {
    napi_throw_error(env, ERROR_CODE, f->msg);
    return NULL;
  }
  if (f->syscall && napi_create_string_utf8(env, f->syscall, NAPI_AUTO_LENGTH, &syscall) == napi_ok)
    napi_set_named_property(env, error, "syscall", syscall);
  if (f->err && napi_create_int32(env, f->err, &errnum) == napi_ok)
    napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

// dump(netnsPath?: string | null): ArrayBuffer
static napi_value js_dump(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;

  char path[PATH_MAX];
  const char *netns_path = NULL;
  if (argc >= 1) {
    napi_valuetype type;
    napi_typeof(env, argv[0], &type);
    if (type == napi_string) {
      size_t len = 0;
      napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len);
      if (len == 0 || len >= sizeof path - 1 || strlen(path) != len) {
        napi_throw_type_error(env, ERROR_CODE, "netnsPath must be a non-empty path without NUL bytes");
        return NULL;
      }
      netns_path = path;
    } else if (type != napi_undefined && type != napi_null) {
      napi_throw_type_error(env, ERROR_CODE, "netnsPath must be a string");
      return NULL;
    }
  }

  records_t records = {0};
  failure_t failure = {0};
  if (dump_all(netns_path, &records, &failure) < 0) {
    free(records.items);
    return throw_failure(env, &failure);
  }
  void *data = NULL;
  napi_value result;
  napi_status status = napi_create_arraybuffer(env, records.len * RECORD_SIZE, &data, &result);
  if (status == napi_ok && records.len) memcpy(data, records.items, records.len * RECORD_SIZE);
  free(records.items);
  if (status != napi_ok) {
    napi_throw_error(env, ERROR_CODE, "sock_diag: cannot allocate the result buffer");
    return NULL;
  }
  return result;
}

int register_dnstap(napi_env env, napi_value exports);  // dnstap.c

NAPI_MODULE_INIT() {
  napi_value fn, size, version;
  if (napi_create_function(env, "dump", NAPI_AUTO_LENGTH, js_dump, NULL, &fn) != napi_ok ||
      napi_create_uint32(env, RECORD_SIZE, &size) != napi_ok ||
      napi_create_uint32(env, LAYOUT_VERSION, &version) != napi_ok ||
      napi_set_named_property(env, exports, "dump", fn) != napi_ok ||
      napi_set_named_property(env, exports, "RECORD_SIZE", size) != napi_ok ||
      napi_set_named_property(env, exports, "LAYOUT_VERSION", version) != napi_ok ||
      register_dnstap(env, exports) != 0)
    return NULL;
  return exports;
}
