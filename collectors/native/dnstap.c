// dnstap: a packet socket that the kernel hands only DNS responses over UDP (source port 53, IPv4 and IPv6,
// first fragments), so that the agent can name the destinations its processes connect to. The socket is
// non-blocking; each sample drains what queued since the last one into ONE ArrayBuffer of records that
// collectors/dns-names.ts parses (the DNS parsing, on hostile bytes, is done there in bounded TypeScript).
//
// Record layout: u32 length (native order), then `length` bytes of the packet from its IP header on.
// Only packets addressed to this host (PACKET_HOST) are kept: not what it sent (on loopback every packet is seen
// twice), not broadcast, multicast or frames for other hosts. Which servers may name addresses is decided in
// TypeScript (the host's resolvers).
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ERROR_CODE "SOCKHUNT_E_DNSTAP"
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif
#define SNAP 4096

// Classic BPF over SOCK_DGRAM packet sockets: offset 0 is the network header.
static struct sock_filter FILTER[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
    /* 1 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),                  // A = IP version
    /* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 7),           // IPv4 → 3, else → 10
    /* 3 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),                  // protocol
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 11), // UDP → 5, else drop
    /* 5 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),                  // flags + fragment offset
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 9, 0),     // a later fragment: drop
    /* 7 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),                 // X = header length
    /* 8 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 0),                  // UDP source port
    /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 53, 5, 6),          // 53 → accept, else drop
    /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 5),          // IPv6 → 11, else drop
    /* 11 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6),                 // next header (no extension headers)
    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 3),
    /* 13 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 40),                // UDP source port
    /* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 53, 0, 1),
    /* 15 */ BPF_STMT(BPF_RET | BPF_K, SNAP),
    /* 16 */ BPF_STMT(BPF_RET | BPF_K, 0),
};

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error, errnum;
  if (napi_create_string_utf8(env, ERROR_CODE, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
      napi_create_error(env, code, text, &error) != napi_ok) {
    napi_throw_error(env, ERROR_CODE, msg);
    return NULL;
  }
  if (napi_create_int32(env, err, &errnum) == napi_ok) napi_set_named_property(env, error, "errno", errnum);
  napi_throw(env, error);
  return NULL;
}

static int fd_arg(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return -1;
  int32_t fd = -1;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return -1;
  return fd;
}

// dnsTapOpen(receiveBufferBytes: number): number (a file descriptor)
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t rcvbuf = 1 << 20;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1) napi_get_value_int32(env, argv[0], &rcvbuf);

  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return throw_errno(env, "dns tap: socket(AF_PACKET)", errno);
  struct sock_fprog prog = {.len = sizeof FILTER / sizeof FILTER[0], .filter = FILTER};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "dns tap: SO_ATTACH_FILTER", err);
  }
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  // Keep the socket off the transmit path: with it there, every packet the host sends is cloned for the tap
  // before the filter drops it (Linux 4.20+; older kernels refuse the option and pay that cost).
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
  // Packets queued between socket() and the filter were not filtered: drop them.
  char scratch[64];
  while (recv(fd, scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

// dnsTapRead(fd: number, maxBytes: number): ArrayBuffer of records (see the top of this file)
static napi_value js_read(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd = fd_arg(env, info, 2, argv);
  if (fd < 0) {
    napi_throw_type_error(env, ERROR_CODE, "dnsTapRead(fd, maxBytes)");
    return NULL;
  }
  int32_t max_bytes = 1 << 20;
  napi_get_value_int32(env, argv[1], &max_bytes);
  if (max_bytes < SNAP + 4) max_bytes = SNAP + 4;

  uint8_t *out = malloc((size_t)max_bytes);
  if (!out) return throw_errno(env, "dns tap: read buffer", ENOMEM);
  size_t used = 0;
  uint8_t packet[SNAP];
  for (;;) {
    if (used + 4 + SNAP > (size_t)max_bytes) break;  // the rest waits for the next read
    struct sockaddr_ll from;
    socklen_t fromlen = sizeof from;
    ssize_t n = recvfrom(fd, packet, sizeof packet, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      int err = errno;
      free(out);
      return throw_errno(env, "dns tap: recvfrom", err);
    }
    // Unicast to this host only: broadcast, multicast and frames for other hosts (a bridge, promiscuous mode)
    // would let anyone on the segment name addresses for every agent there.
    if (from.sll_pkttype != PACKET_HOST) continue;
    uint32_t len = (uint32_t)n;
    memcpy(out + used, &len, 4);
    memcpy(out + used + 4, packet, len);
    used += 4 + len;
  }
  void *data = NULL;
  napi_value result;
  napi_status status = napi_create_arraybuffer(env, used, &data, &result);
  if (status == napi_ok && used) memcpy(data, out, used);
  free(out);
  if (status != napi_ok) return throw_errno(env, "dns tap: result buffer", ENOMEM);
  return result;
}

// dnsTapDrops(fd: number): number — packets the kernel dropped (receive buffer full) since the last call
static napi_value js_drops(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd = fd_arg(env, info, 1, argv);
  struct tpacket_stats stats = {0};
  socklen_t len = sizeof stats;
  if (fd < 0 || getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &stats, &len) < 0) return throw_errno(env, "dns tap: PACKET_STATISTICS", fd < 0 ? EBADF : errno);
  napi_value result;
  napi_create_uint32(env, stats.tp_drops, &result);
  return result;
}

// dnsTapClose(fd: number): void
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd = fd_arg(env, info, 1, argv);
  if (fd >= 0) close(fd);
  return NULL;
}

int register_dnstap(napi_env env, napi_value exports) {
  const struct {
    const char *name;
    napi_callback cb;
  } fns[] = {{"dnsTapOpen", js_open}, {"dnsTapRead", js_read}, {"dnsTapDrops", js_drops}, {"dnsTapClose", js_close}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok)
      return -1;
  }
  return 0;
}
